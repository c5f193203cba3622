import { Context } from "effect"
import type { Caller } from "./Caller.ts"

/** The caller of the request being served, provided by the edge of each transport. */
export class CurrentCaller extends Context.Service<CurrentCaller, Caller>()("mcp-router/router/CurrentCaller") {}

/** A request the router makes of itself (ending an MCP session): it passes no guard, as this caller. */
export class InternalRequest extends Context.Service<InternalRequest, Caller>()("mcp-router/router/InternalRequest") {}

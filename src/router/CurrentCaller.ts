import * as Context from "effect/Context"
import type { Caller } from "./Caller.ts"

/** The caller of the request being served, provided by the edge of each transport. */
export class CurrentCaller extends Context.Service<CurrentCaller, Caller>()("mcp-router/router/CurrentCaller") {}

/**
 * Offers the registry's tools to effect's McpServer (HTTP and stdio alike). Each registered tool hands
 * its call to `Router.call`, so MCP sees exactly what JSON-RPC and WebSocket see.
 */
import { Cause, Context, Effect, Layer, Option, Stream } from "effect"
import { McpSchema, McpServer } from "effect/ai"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { localCaller, type Transport } from "../router/Caller.ts"
import { Router } from "../router/Router.ts"
import { allows, needTool } from "../security/permissions.ts"
import { isMcpRateLimited, routerErrorToMcp, toCallToolResult, toToolListing } from "../router/wire.ts"
import type { ToolDefinition } from "../tools/ToolDefinition.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import { McpUpstreamCatalogLayer } from "./McpUpstreamCatalog.ts"

/**
 * tools/list shows a caller only the tools that exist now (upstream tools come and go) and that it may
 * call (a caller with no CurrentCaller is local: stdio). A call of a hidden tool still reaches the Router,
 * which refuses it, audits it and counts it.
 */
const ToolVisibility = ToolRegistry.use((registry) => Effect.succeed(
  McpServer.visibility((options) =>
    options.method === "tools/list"
      ? Effect.map(Effect.serviceOption(CurrentCaller), (caller) =>
        registry.find(options.target) !== undefined &&
        Option.match(caller, { onNone: () => true, onSome: (c) => allows(c.permissions, needTool(options.target)) }))
      : Effect.succeed(true), { global: true })))

/**
 * A tools/call over the caller's rate limit is answered with a JSON-RPC error of its own, -32029 with
 * `data: { retryAfterSeconds, limit, window }` (as at /api/mcp/jsonrpc), not as a tool result: effect's
 * McpServer sends a registration's own failures as -32602 but a middleware's failure with its code and
 * data, so this middleware re-raises the handler's rate-limit failure as its own. Anything else passes.
 */
const RateLimitErrors = McpServer.middleware((effect, options) =>
  options.method !== "tools/call"
    ? effect
    : Effect.catchCause(effect, (cause) => {
      const failure = Cause.hasInterrupts(cause) ? undefined : cause.reasons.find((r) => r._tag === "Fail" && isMcpRateLimited(r.error))
      // a fresh failure, no longer marked as the handler's own
      return failure?._tag === "Fail" && isMcpRateLimited(failure.error) ? Effect.fail(failure.error) : Effect.failCause(cause)
    }), { global: true })

/** Everything the router offers over MCP: its tools, and the upstreams' resources and prompts. */
export const McpToolsLayer = (transport: Transport) =>
  Layer.mergeAll(Layer.unwrap(ToolVisibility), RateLimitErrors, OfferedTools(transport), McpUpstreamCatalogLayer)

const OfferedTools = (transport: Transport) =>
  Layer.effectDiscard(
    Effect.gen(function*() {
      const server = yield* McpServer.McpServer
      const router = yield* Router
      const registry = yield* ToolRegistry
      // the definition each name was last offered with: a changed one (an upstream's new schema) is offered again
      const offered = new Map<string, ToolDefinition>()
      const offer = (tool: ToolDefinition) =>
        server.addTool({
          tool: new McpSchema.Tool(toToolListing(tool) as ConstructorParameters<typeof McpSchema.Tool>[0]),
          annotations: Context.empty(),
          handle: (args) =>
            Effect.serviceOption(CurrentCaller).pipe(
              Effect.flatMap((caller) => router.call(Option.getOrElse(caller, () => localCaller(transport)), tool.name, args)),
              Effect.map((output) => new McpSchema.CallToolResult(toCallToolResult(output) as ConstructorParameters<typeof McpSchema.CallToolResult>[0])),
              // a rate-limit error is an McpErrorBase (-32029), which RateLimitErrors sends as it is
              Effect.mapError((error) => routerErrorToMcp(error) as McpSchema.InvalidParams)
            )
        }).pipe(Effect.tap(() => Effect.sync(() => offered.set(tool.name, tool))))
      const offerNew = Effect.suspend(() =>
        Effect.forEach(registry.all().filter((tool) => offered.get(tool.name) !== tool), offer, { discard: true })
      )
      yield* offerNew
      // tools that left are hidden by ToolVisibility; clients are told the list changed either way
      yield* registry.changes.pipe(
        Stream.runForEach(() => offerNew.pipe(Effect.andThen(server.notifications["notifications/tools/list_changed"]({})))),
        Effect.forkScoped
      )
    })
  )

/**
 * Offers the registry's tools to effect's McpServer (HTTP and stdio alike). Each registered tool hands
 * its call to `Router.call`, so MCP sees exactly what JSON-RPC and WebSocket see.
 */
import { Context, Effect, Layer, Option, Stream } from "effect"
import { McpSchema, McpServer } from "effect/ai"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { localCaller, type Transport } from "../router/Caller.ts"
import { Router } from "../router/Router.ts"
import { allows, needTool } from "../security/permissions.ts"
import { routerErrorToMcp, toCallToolResult, toToolListing } from "../router/wire.ts"
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

/** Everything the router offers over MCP: its tools, and the upstreams' resources and prompts. */
export const McpToolsLayer = (transport: Transport) =>
  Layer.mergeAll(Layer.unwrap(ToolVisibility), OfferedTools(transport), McpUpstreamCatalogLayer)

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
              Effect.mapError(routerErrorToMcp)
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

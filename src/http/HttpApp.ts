/** The HTTP server: system routes, JSON-RPC, MCP Streamable HTTP at /mcp, and JSON for everything else. */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Types from "effect/Types"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import type * as HttpServerResponse from "effect/http/HttpServerResponse"
import { createServer } from "node:http"
import { AppConfig } from "../config/AppConfig.ts"
import { McpEngine } from "../mcp/McpEngine.ts"
import { makeStreamableHttp } from "../mcp/streamableHttp.ts"
import { version } from "../version.ts"
import { AdminRoutes } from "./adminRoutes.ts"
import { type Access, jsonRpcAccess, keyAccess, mcpAccess, readAccess } from "./access.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { McpSessions } from "../mcp/McpSessions.ts"
import type { EdgeError } from "../security/SecurityErrors.ts"
import { EdgeMetrics } from "./edge.ts"
import { JsonRpcRoute } from "./jsonRpcRoute.ts"
import { HealthRoutes } from "./healthRoutes.ts"
import { errorResponse, jsonResponse } from "./jsonResponse.ts"
import { ObservabilityRoutes } from "./observabilityRoutes.ts"
import { SystemRoutes } from "./systemRoutes.ts"
import { UpstreamRoutes } from "./upstreamRoutes.ts"
import { WsRoute } from "./wsRoute.ts"
import { TrackedWebSocket } from "../ws/trackedWebSocket.ts"
import { WsHub } from "../ws/WsHub.ts"

/** Routes that register themselves get their access from a route middleware, declared here. */
function guardedBy(method: "*" | "POST", path: string, access: Access, inner: (handler: Unhandled) => Effect.Effect<HttpServerResponse.HttpServerResponse | EdgeError, Types.unhandled> = (handler) => handler) {
  return HttpRouter.middleware(Effect.gen(function*() {
    const guard = (yield* AccessGuard).middleware(method, path, access)
    // the guard answers every failure itself; the router's types want the unhandled channel kept
    return (handler: Unhandled) => guard(inner(handler)) as Unhandled
  })).layer
}
type Unhandled = Effect.Effect<HttpServerResponse.HttpServerResponse, Types.unhandled>

/** MCP Streamable HTTP, served by the protocol engine. */
const McpRoute = HttpRouter.use((router) =>
  AccessGuard.use((guard) => Effect.flatMap(makeStreamableHttp, (handler) => router.addAll([guard.route("*", "/mcp", mcpAccess, handler)])))
)

/** The route table, as declared by the routes themselves. */
const RouteTableRoute = HttpRouter.use((router) =>
  AccessGuard.use((guard) =>
    router.addAll([guard.route("GET", "/api/routes", readAccess, Effect.sync(() => jsonResponse({ routes: guard.routes() })))])
  )
)

// paths no route has: 404, but only to callers with a key, so anonymous callers learn nothing of which exist
const NotFoundRoute = HttpRouter.use((router) =>
  AccessGuard.use((guard) =>
    router.addAll([guard.route("*", "*", keyAccess, Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      return errorResponse(404, "not_found", `No route for ${request.method} ${request.url.split("?")[0]}`)
    }))])
  )
)

export const HttpRoutes = Layer.mergeAll(
  SystemRoutes,
  HealthRoutes,
  ObservabilityRoutes,
  AdminRoutes,
  JsonRpcRoute.pipe(Layer.provide(guardedBy("POST", "/api/mcp/jsonrpc", jsonRpcAccess))),
  McpRoute,
  RouteTableRoute,
  WsRoute.pipe(Layer.provide(WsHub.layer)),
  UpstreamRoutes,
  NotFoundRoute,
  EdgeMetrics
).pipe(Layer.provide(Layer.mergeAll(AccessGuard.layer, McpSessions.layer)), Layer.provide(McpEngine.layer))

const loopbackHosts = new Set(["127.0.0.1", "::1", "localhost"])

const ListeningLog = Layer.effectDiscard(
  HttpServer.addressFormattedWith((address) =>
    Effect.gen(function*() {
      yield* Effect.logInfo(`MCP Router Pro ${version} listening on ${address}; MCP at ${address}/mcp`)
      const config = (yield* AppConfig).current()
      if (!config.security.requireApiKey && !loopbackHosts.has(config.server.host)) {
        yield* Effect.logWarning(
          `API keys are OFF (security.requireApiKey=false) while listening on ${config.server.host}, beyond loopback: anyone who reaches this port can run tools. Use this development mode on 127.0.0.1 only.`
        )
      }
      yield* Effect.addFinalizer(() => Effect.logInfo("HTTP server stopped"))
    }))
)

/** Serves `HttpRoutes` on `server.host`:`server.port`. */
export const HttpServerLayer = Layer.unwrap(
  AppConfig.use((config) => Effect.sync(() => {
    const { host, port, shutdownTimeout, headersTimeout, requestTimeout } = config.current().server
    const { maxMessageBytes } = config.current().websocket
    return HttpRouter.serve(HttpRoutes, { disableListenLog: true, disableLogger: true }).pipe(
      Layer.provideMerge(ListeningLog),
      // slow or unfinished requests, anonymous or not, end at these timeouts (checked every second)
      Layer.provideMerge(NodeHttpServer.layer(() => createServer({ headersTimeout, requestTimeout: Math.max(requestTimeout, headersTimeout), connectionsCheckingInterval: 1000 }), {
        host,
        port,
        gracefulShutdownTimeout: shutdownTimeout,
        // ws closes a connection whose message is larger with 1009
        // TrackedWebSocket lets a session see how much it has sent that the client has not read
        websocket: { maxPayload: maxMessageBytes, WebSocket: TrackedWebSocket }
      }))
    )
  }))
)

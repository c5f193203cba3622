/** The HTTP server: system routes, JSON-RPC, MCP Streamable HTTP at /mcp, and JSON for everything else. */
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { McpServer } from "effect/ai"
import { HttpRouter, HttpServer, HttpServerRequest } from "effect/http"
import { createServer } from "node:http"
import { AppConfig } from "../config/AppConfig.ts"
import { McpToolsLayer } from "../mcp/McpTools.ts"
import { mcpProtocols, serverInstructions } from "../mcp/protocols.ts"
import { serverName, version } from "../version.ts"
import { AdminRoutes } from "./adminRoutes.ts"
import { EdgeGuards } from "./edge.ts"
import { JsonRpcRoute } from "./jsonRpcRoute.ts"
import { HealthRoutes } from "./healthRoutes.ts"
import { errorResponse } from "./jsonResponse.ts"
import { ObservabilityRoutes } from "./observabilityRoutes.ts"
import { SystemRoutes } from "./systemRoutes.ts"
import { UpstreamRoutes } from "./upstreamRoutes.ts"
import { WsRoute } from "./wsRoute.ts"
import { TrackedWebSocket } from "../ws/trackedWebSocket.ts"
import { WsHub } from "../ws/WsHub.ts"

const McpRoute = Layer.unwrap(
  AppConfig.use((config) => Effect.succeed(
    McpServer.layerHttp({
      name: serverName,
      version,
      instructions: serverInstructions,
      path: "/mcp",
      protocols: mcpProtocols,
      allowedOrigins: config.current().security.allowedOrigins,
      allowSessionTermination: true,
      registrations: McpToolsLayer("mcp")
    })))
)

const NotFoundRoute = HttpRouter.add("*", "*", (request: HttpServerRequest.HttpServerRequest) =>
  Effect.succeed(errorResponse(404, "not_found", `No route for ${request.method} ${request.url.split("?")[0]}`)))

export const HttpRoutes = Layer.mergeAll(
  SystemRoutes,
  HealthRoutes,
  ObservabilityRoutes,
  AdminRoutes,
  JsonRpcRoute,
  McpRoute,
  WsRoute.pipe(Layer.provide(WsHub.layer)),
  UpstreamRoutes,
  NotFoundRoute,
  EdgeGuards
)

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
    const { host, port, shutdownTimeout } = config.current().server
    const { maxMessageBytes } = config.current().websocket
    return HttpRouter.serve(HttpRoutes, { disableListenLog: true, disableLogger: true }).pipe(
      Layer.provideMerge(ListeningLog),
      Layer.provideMerge(NodeHttpServer.layer(createServer, {
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

/**
 * A server that runs the WebSocket session at /ws with no HTTP edge in front of it: no address guard,
 * no authentication of the upgrade. It shows what the session does on its own. The client address the
 * edge would have worked out is taken from the `x-test-client-ip` header; without it the caller has no
 * address, as from an edge that gave none.
 */
import { NodeHttpServer, NodeHttpServerRequest } from "@effect/platform-node"
import { Context, Effect, Exit, Layer, Metric, Scope } from "effect"
import { HttpRouter, HttpServer, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as fs from "node:fs"
import { createServer } from "node:http"
import type { Socket } from "node:net"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { makeLoggingLayer } from "../../src/logging/Logging.ts"
import { routerCoreLayer, SecurityLayer } from "../../src/main.ts"
import { Events } from "../../src/observability/Events.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import { makeSession } from "../../src/ws/session.ts"
import { TrackedWebSocket, webSocketOf } from "../../src/ws/trackedWebSocket.ts"
import { WsHub } from "../../src/ws/WsHub.ts"
import { makeTempDir, type RunningServer } from "../support/server.ts"

const SessionRoute = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const session = yield* makeSession
    yield* router.add("GET", "/ws", Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      const ip = request.headers["x-test-client-ip"]
      const socket = yield* request.upgrade
      const tcp = NodeHttpServerRequest.toIncomingMessage(request).socket as Socket
      yield* session(socket, { transport: "websocket", permissions: [], ...(ip === undefined ? {} : { ip }) }, () => webSocketOf(tcp))
      return HttpServerResponse.empty()
    }).pipe(Effect.orDie))
  })
)

/** Starts the session-only server with keys required and `security` merged in; close it after the test. */
export const startSessionOnly = async (security: Record<string, unknown>, websocket: Record<string, unknown> = {}): Promise<RunningServer> => {
  const dataDir = makeTempDir("mcp-router-data-")
  const workingDir = makeTempDir()
  const config = AppConfig.layerFromInput({
    security: { requireApiKey: true, ...security },
    storage: { dataDir },
    server: { host: "127.0.0.1", port: 0 },
    logging: { enableConsole: false },
    tools: { workingDir },
    websocket
  })
  const layer = HttpRouter.serve(SessionRoute.pipe(Layer.provide(WsHub.layer)), { disableListenLog: true, disableLogger: true }).pipe(
    Layer.provideMerge(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port: 0, websocket: { WebSocket: TrackedWebSocket } })),
    Layer.provide(routerCoreLayer()),
    Layer.provide(SecurityLayer),
    Layer.provide(Layer.mergeAll(Metrics.layer, Events.layer)),
    Layer.provide(Layer.sync(Metric.MetricRegistry, () => new Map())),
    Layer.provideMerge(makeLoggingLayer()),
    Layer.provide(config)
  )
  const scope = Effect.runSync(Scope.make())
  const context = await Effect.runPromise(Layer.buildWithScope(layer, scope))
  const address = Context.get(context, HttpServer.HttpServer).address as unknown as { port: number }
  return {
    url: `http://127.0.0.1:${address.port}`,
    workingDir,
    close: async () => {
      await Effect.runPromise(Scope.close(scope, Exit.void))
      fs.rmSync(workingDir, { recursive: true, force: true })
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  }
}

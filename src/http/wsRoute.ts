/** GET /ws: upgrades to the WebSocket API (src/ws). A plain GET is told to upgrade. */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { makeSession } from "../ws/session.ts"
import { webSocketOf } from "../ws/trackedWebSocket.ts"
import * as NodeHttpServerRequest from "@effect/platform-node/NodeHttpServerRequest"
import type { Socket } from "node:net"
import { errorResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { webSocketAccess } from "./access.ts"
import * as HttpServerResponse from "effect/http/HttpServerResponse"

export const WsRoute = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const session = yield* makeSession
    const guard = yield* AccessGuard
    yield* router.addAll([guard.route("GET", "/ws", webSocketAccess, Effect.gen(function*() {
      const request = yield* HttpServerRequest.HttpServerRequest
      if (request.headers["upgrade"]?.toLowerCase() !== "websocket") {
        return errorResponse(426, "upgrade_required", "This endpoint speaks WebSocket: connect with a WebSocket client")
      }
      const caller = yield* CurrentCaller
      const socket = yield* request.upgrade
      const tcp = NodeHttpServerRequest.toIncomingMessage(request).socket as Socket
      // the ws connection exists once the upgrade completes, inside the session
      yield* session(socket, caller, () => webSocketOf(tcp))
      return HttpServerResponse.empty()
    }).pipe(Effect.catchTag("HttpServerError", (e) => Effect.succeed(errorResponse(400, "upgrade_failed", e.message)))))])
  })
)

/** GET /api/upstreams (read): each upstream's state, tools, last error and latency. */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import { Upstreams } from "../upstreams/Upstreams.ts"
import { jsonResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { readAccess } from "./access.ts"

export const UpstreamRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const guard = yield* AccessGuard
    const upstreams = yield* Upstreams
    yield* router.addAll([guard.route("GET", "/api/upstreams", readAccess, Effect.sync(() => jsonResponse({ upstreams: upstreams.statuses() })))])
  })
)

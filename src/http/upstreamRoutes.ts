/** GET /api/upstreams (read): each upstream's state, tools, last error and latency. */
import { Effect } from "effect"
import { HttpRouter } from "effect/http"
import { Upstreams } from "../upstreams/Upstreams.ts"
import { jsonResponse } from "./jsonResponse.ts"

export const UpstreamRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const upstreams = yield* Upstreams
    yield* router.add("GET", "/api/upstreams", Effect.sync(() => jsonResponse({ upstreams: upstreams.statuses() })))
  })
)

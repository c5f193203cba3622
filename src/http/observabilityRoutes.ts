/** GET /metrics (JSON), GET /metrics/prometheus (exposition text) and GET /api/stats; all need read. */
import { Effect } from "effect"
import { HttpRouter, HttpServerResponse } from "effect/http"
import { Metrics } from "../observability/Metrics.ts"
import { ToolStats } from "../observability/ToolStats.ts"
import { jsonResponse } from "./jsonResponse.ts"

export const ObservabilityRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const metrics = yield* Metrics
    const stats = yield* ToolStats
    yield* router.add("GET", "/metrics/prometheus", Effect.map(metrics.prometheusText, (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })))
    yield* router.add("GET", "/metrics", Effect.map(metrics.json, (json) => jsonResponse(json)))
    yield* router.add("GET", "/api/stats", Effect.map(stats.snapshot, (snapshot) => jsonResponse(snapshot)))
  })
)

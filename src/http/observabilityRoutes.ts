/**
 * GET /metrics (JSON), GET /metrics/prometheus (exposition text), GET /metrics/history, GET /api/stats and
 * GET /api/alerts; all need read.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { Alerts } from "../observability/Alerts.ts"
import { Metrics } from "../observability/Metrics.ts"
import { Sampler } from "../observability/Sampler.ts"
import { ToolStats } from "../observability/ToolStats.ts"
import { errorResponse, jsonResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { McpSessions } from "../mcp/McpSessions.ts"
import { readAccess } from "./access.ts"

const unitMs = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const

/** A window such as 30s, 15m, 1h, 24h or 7d. */
const HistoryQuery = Schema.Struct({
  window: Schema.optionalKey(Schema.String.check(Schema.isPattern(/^[1-9][0-9]{0,4}[smhd]$/u)))
})

const windowMs = (window: string) => Number(window.slice(0, -1)) * unitMs[window.slice(-1) as keyof typeof unitMs]

export const ObservabilityRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const guard = yield* AccessGuard
    const metrics = yield* Metrics
    const stats = yield* ToolStats
    const sampler = yield* Sampler
    const alerts = yield* Alerts
    const sessions = yield* McpSessions
    yield* router.addAll([guard.route("GET", "/metrics/prometheus", readAccess, Effect.map(metrics.prometheusText, (text) =>
      HttpServerResponse.text(text, { contentType: "text/plain; version=0.0.4; charset=utf-8" })))])
    yield* router.addAll([guard.route("GET", "/metrics", readAccess, Effect.map(metrics.json, (json) => jsonResponse(json)))])
    yield* router.addAll([guard.route("GET", "/metrics/history", readAccess, HttpServerRequest.schemaSearchParams(HistoryQuery).pipe(
      Effect.flatMap(({ window = "15m" }) =>
        Effect.map(sampler.history(windowMs(window)), (history) => jsonResponse({ window, ...history, count: history.points.length }))),
      Effect.catchTag("SchemaError", () =>
        Effect.succeed(errorResponse(400, "invalid_query", "Invalid query: window must be a number and a unit (s, m, h, d), such as 15m, 1h or 24h")))
    ))])
    yield* router.addAll([guard.route("GET", "/api/stats", readAccess, Effect.map(stats.snapshot, (snapshot) => jsonResponse({ ...snapshot, mcpSessions: sessions.stats() })))])
    yield* router.addAll([guard.route("GET", "/api/alerts", readAccess, Effect.map(alerts.list, (list) => jsonResponse(list)))])
  })
)

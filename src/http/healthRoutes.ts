/** Probes, public like /health: GET /health/live (the process answers) and GET /health/ready (it can serve). */
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import { Readiness } from "../observability/Readiness.ts"
import { jsonResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { publicAccess } from "./access.ts"

export const HealthRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const guard = yield* AccessGuard
    const readiness = yield* Readiness
    yield* router.addAll([guard.route("GET", "/health/live", publicAccess, Effect.succeed(jsonResponse({ status: "ok" })))])
    // Redis (redis.url) is shown apart: without it the router serves, degraded, and stays ready
    const ready = Effect.all([readiness.problems, readiness.shared], { concurrency: "unbounded" }).pipe(Effect.map(([reasons, shared]) => {
      const report = Object.keys(shared.stores).length === 0 ? {} : { shared: shared.stores, ...(shared.degraded.length === 0 ? {} : { degraded: shared.degraded }) }
      return reasons.length === 0
        ? jsonResponse({ status: shared.degraded.length === 0 ? "ready" : "degraded", ...report })
        : jsonResponse({ status: "unready", reasons, ...report }, 503)
    }))
    yield* router.addAll([guard.route("GET", "/health/ready", publicAccess, ready)])
  })
)

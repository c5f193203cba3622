/** Probes, public like /health: GET /health/live (the process answers) and GET /health/ready (it can serve). */
import { Effect } from "effect"
import { HttpRouter } from "effect/http"
import { Readiness } from "../observability/Readiness.ts"
import { jsonResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { publicAccess } from "./access.ts"

export const HealthRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const guard = yield* AccessGuard
    const readiness = yield* Readiness
    yield* router.addAll([guard.route("GET", "/health/live", publicAccess, Effect.succeed(jsonResponse({ status: "ok" })))])
    yield* router.addAll([guard.route("GET", "/health/ready", publicAccess, Effect.map(readiness.problems, (reasons) =>
      reasons.length === 0 ? jsonResponse({ status: "ready" }) : jsonResponse({ status: "unready", reasons }, 503)))])
  })
)

/** Probes, public like /health: GET /health/live (the process answers) and GET /health/ready (it can serve). */
import { Effect } from "effect"
import { HttpRouter } from "effect/http"
import { Readiness } from "../observability/Readiness.ts"
import { jsonResponse } from "./jsonResponse.ts"

export const HealthRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const readiness = yield* Readiness
    yield* router.add("GET", "/health/live", Effect.succeed(jsonResponse({ status: "ok" })))
    yield* router.add("GET", "/health/ready", Effect.map(readiness.problems, (reasons) =>
      reasons.length === 0 ? jsonResponse({ status: "ready" }) : jsonResponse({ status: "unready", reasons }, 503)))
  })
)

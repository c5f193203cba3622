/**
 * What every HTTP request passes before and after its route: the request metric by route template,
 * and interruption when the client goes away. Access is decided by the route that matched
 * (AccessGuard), not here.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { recordHttpRequest } from "../observability/instruments.ts"

/** The template of the route that matched ("other" until one does), for bounded metric labels. */
export class MatchedRoute extends Context.Service<MatchedRoute, { path: string }>()("mcp-router/http/MatchedRoute") {}

export const EdgeMetrics = HttpRouter.middleware((handle) =>
  // the router runs middleware uninterruptibly: a client that goes away must still stop its request
  Effect.interruptible(Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const matched = { path: "other" }
    const started = performance.now()
    const response = yield* Effect.provideService(handle, MatchedRoute, matched)
    yield* recordHttpRequest(matched.path, request.method, response.status, (performance.now() - started) / 1000)
    return response
  })), { global: true })

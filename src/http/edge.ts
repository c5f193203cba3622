/**
 * The guards every HTTP request passes, in this order: IP filter → Origin/Host/CORS → payload cap →
 * authenticate → rate limit → route permission. The outcome is the request's Caller, provided to the
 * routes as CurrentCaller; a refusal is answered here, in the wire format of the endpoint. The route then
 * runs under `server.timeout` (503 past it), and an unexpected failure becomes a JSON 500 whose cause goes
 * to the log, never to the client.
 */
import { Cause, Duration, Effect, Layer, Option } from "effect"
import { HttpIncomingMessage, HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as ByteSize from "effect/ByteSize"
import { AppConfig } from "../config/AppConfig.ts"
import { recordHttpRequest } from "../observability/instruments.ts"
import type { Caller } from "../router/Caller.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { edgeErrorBody, edgeErrorWire } from "../router/wire.ts"
import { Auth, credentialFrom, type Identity } from "../security/Auth.ts"
import { IpGuard } from "../security/IpGuard.ts"
import { RateLimits, type RateLimitState } from "../security/RateLimits.ts"
import { AddressBlocked, type EdgeError, OriginRefused, PayloadTooLarge } from "../security/SecurityErrors.ts"
import { SecurityStats } from "../security/SecurityStats.ts"
import { errorResponse } from "./jsonResponse.ts"
import { routeAccess, routeLabel, speaksJsonRpc } from "./routeAccess.ts"

const loopbackNames = new Set(["localhost", "127.0.0.1", "[::1]", "::1"])
const allowedHeaders = "authorization, content-type, x-api-key, mcp-session-id, mcp-protocol-version, last-event-id"
const exposedHeaders = "mcp-session-id, mcp-protocol-version, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset"

const isBodyTooLarge = (error: unknown) => {
  const reason = (error as { readonly _tag?: string; readonly reason?: { readonly _tag?: string; readonly reason?: string } })
  return reason._tag === "HttpServerError" && reason.reason?._tag === "RequestParseError" && reason.reason.reason === "BodyTooLarge"
}

const hostName = (host: string) => (host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!).toLowerCase()

const corsHeaders = (origin: string, wildcard: boolean): Record<string, string> => ({
  "access-control-allow-origin": wildcard ? "*" : origin,
  "access-control-expose-headers": exposedHeaders,
  vary: "Origin"
})

const rateLimitHeaders = (state: RateLimitState): Record<string, string> => ({
  "ratelimit-limit": String(state.limit),
  "ratelimit-remaining": String(state.remaining),
  "ratelimit-reset": String(state.resetSeconds)
})

/** Records every request by route template, method and status. */
const timed = <E, R>(response: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const started = performance.now()
    const result = yield* response
    yield* recordHttpRequest(routeLabel(request.url.split("?")[0]!), request.method, result.status, (performance.now() - started) / 1000)
    return result
  })

export const EdgeGuards = Layer.unwrap(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const ipGuard = yield* IpGuard
    const auth = yield* Auth
    const limits = yield* RateLimits
    const stats = yield* SecurityStats
    const guard = (handle: Effect.Effect<HttpServerResponse.HttpServerResponse, unknown>) =>
      Effect.gen(function*() {
        const request = yield* HttpServerRequest.HttpServerRequest
        const path = request.url.split("?")[0]!
        const security = config.current().security
        const headers = request.headers
        const refuse = (error: EdgeError, extra: Record<string, string> = {}) => {
          const wire = edgeErrorWire(error)
          return HttpServerResponse.jsonUnsafe(edgeErrorBody(error, speaksJsonRpc(path)), {
            status: wire.status,
            headers: { ...wire.headers, ...extra }
          })
        }

        // 1. addresses refused before anything else runs
        const ip = ipGuard.clientIp(Option.getOrElse(request.remoteAddress, () => "unknown"), headers["x-forwarded-for"])
        const blocked = ipGuard.refusal(ip)
        if (blocked !== undefined) {
          yield* stats.record("blocked", "address")
          return refuse(new AddressBlocked({ ip, reason: blocked }))
        }

        // 2. browsers: Origin against security.allowedOrigins; DNS rebinding: Host when bound to loopback
        const origin = headers["origin"]
        const wildcard = security.allowedOrigins.includes("*")
        const originAllowed = origin === undefined || wildcard || security.allowedOrigins.includes(origin)
        const cors = origin !== undefined && originAllowed ? corsHeaders(origin, wildcard) : {}
        if (request.method === "OPTIONS" && origin !== undefined && headers["access-control-request-method"] !== undefined) {
          if (!originAllowed) {
            yield* stats.record("blocked", "origin")
            return refuse(new OriginRefused({ detail: `Origin ${origin} is not in security.allowedOrigins` }))
          }
          return HttpServerResponse.empty({
            status: 204,
            headers: { ...cors, "access-control-allow-methods": "GET, POST, DELETE, OPTIONS", "access-control-allow-headers": allowedHeaders, "access-control-max-age": "600" }
          })
        }
        if (!originAllowed) {
          yield* stats.record("blocked", "origin")
          return refuse(new OriginRefused({ detail: `Origin ${origin} is not in security.allowedOrigins` }))
        }
        const host = headers["host"]
        if (loopbackNames.has(config.current().server.host) && host !== undefined && !loopbackNames.has(hostName(host))) {
          yield* stats.record("blocked", "host")
          return refuse(new OriginRefused({ detail: `Host ${host} is not a loopback name; this router only answers to localhost` }))
        }

        // 3. bodies over the cap: refused on the declared length, or cut while streaming
        const declared = Number(headers["content-length"] ?? 0)
        if (declared > security.maxPayloadBytes) return refuse(new PayloadTooLarge({ limit: security.maxPayloadBytes }), cors)
        const maxBodySize = ByteSize.fromInputUnsafe(security.maxPayloadBytes)
        if (headers["content-length"] === undefined && headers["transfer-encoding"] !== undefined) {
          // a body of unknown length is read here, under the cap: routes that swallow read errors
          // (effect's MCP transport answers them as parse errors) then reuse the cached copy
          const read = yield* request.arrayBuffer.pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize), Effect.result)
          if (read._tag === "Failure" && isBodyTooLarge(read.failure)) return refuse(new PayloadTooLarge({ limit: security.maxPayloadBytes }), cors)
        }

        // 4. who is calling; public routes serve anonymous callers, and callers whose key failed, as anonymous;
        // a WebSocket may connect without a key and authenticate with its first message
        const access = routeAccess(path)
        const credential = credentialFrom(headers, request.url, security.allowQueryApiKey)
        const identity: Identity | EdgeError = access === "websocket" && credential === undefined && security.requireApiKey
          ? { permissions: [] }
          : yield* auth.authenticate(credential, ip).pipe(
            Effect.catch((error): Effect.Effect<Identity | EdgeError> => Effect.succeed(access === "public" ? { permissions: [] } : error))
          )
        if ("_tag" in identity) return refuse(identity, cors)

        // 5. rate limits (not for health probes)
        let limitState: RateLimitState | undefined
        if (access !== "public") {
          const consumed = yield* limits.consume({ ...identity, ip }).pipe(Effect.result)
          if (consumed._tag === "Failure") return refuse(consumed.failure, cors)
          limitState = consumed.success
        }

        // 6. the route's own permission
        if (access !== "public" && access !== "authenticated" && access !== "websocket") {
          const denied = yield* auth.check(identity, access).pipe(Effect.flip, Effect.option)
          if (Option.isSome(denied)) return refuse(denied.value, cors)
        }

        const transport = path === "/mcp" ? "mcp" : path === "/api/mcp/jsonrpc" ? "jsonrpc" : access === "websocket" ? "websocket" : "http"
        const caller: Caller = { transport, ...identity, ip }
        // the Origin was checked above; effect's MCP transport would otherwise check it against its own fixed list
        const forwarded = origin === undefined ? request : request.modify({ headers: Object.fromEntries(Object.entries(headers).filter(([name]) => name !== "origin")) as typeof headers })
        const response = yield* handle.pipe(
          Effect.provideService(CurrentCaller, caller),
          Effect.provideService(HttpServerRequest.HttpServerRequest, forwarded),
          Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize),
          Effect.timeoutOrElse({
            // a WebSocket lives as long as its connection; its own heartbeat and limits govern it
            duration: access === "websocket" ? Duration.infinity : config.current().server.timeout,
            orElse: () =>
              Effect.succeed(errorResponse(503, "request_timeout", `The request took longer than ${config.current().server.timeout} ms (server.timeout)`))
          }),
          Effect.catchCause((cause) => {
            if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
            if (isBodyTooLarge(Cause.squash(cause))) return Effect.succeed(refuse(new PayloadTooLarge({ limit: security.maxPayloadBytes }), cors))
            return Effect.logError("request failed", cause).pipe(
              Effect.as(errorResponse(500, "internal_error", "The router failed to handle this request; its log has the details"))
            )
          })
        )
        return HttpServerResponse.setHeaders(response, { ...cors, ...(limitState === undefined ? {} : rateLimitHeaders(limitState)) })
      })
    // the router runs middleware uninterruptibly: a client that goes away must still stop its request
    return HttpRouter.middleware((handle) => Effect.interruptible(timed(guard(handle))), { global: true })
  })
)

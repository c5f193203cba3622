/**
 * The guards of a route, run once the HTTP router has matched it, in this order: address guard →
 * Origin/Host (CORS preflight answered here) → authenticate from the headers alone → the route's
 * declared access → rate limit (routes that count requests) → body cap → the handler, under
 * `server.timeout`, as the request's CurrentCaller, ended if its key is revoked meanwhile. A refusal is
 * answered here in the route's wire format; no body is read before the caller is known.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import * as ByteSize from "effect/ByteSize"
import * as HttpBody from "effect/http/HttpBody"
import * as HttpIncomingMessage from "effect/http/HttpIncomingMessage"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { AppConfig } from "../config/AppConfig.ts"
import type { Caller } from "../router/Caller.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { runWatched, type Watch } from "../router/runWatched.ts"
import { Auth, credentialFrom, type Identity } from "../security/Auth.ts"
import { IpGuard } from "../security/IpGuard.ts"
import { type KeyEnd, KeyWatch } from "../security/KeyWatch.ts"
import { RateLimits, type RateLimitState } from "../security/RateLimits.ts"
import { AddressBlocked, type EdgeError, PayloadTooLarge, Unauthenticated } from "../security/SecurityErrors.ts"
import { SecurityStats } from "../security/SecurityStats.ts"
import { type Access, type DeclaredRoute, describeAccess } from "./access.ts"
import { MatchedRoute } from "./edge.ts"
import { errorResponse, refusalResponse } from "./jsonResponse.ts"
import { originCheck } from "./origins.ts"

const allowedHeaders = "authorization, content-type, x-api-key, mcp-session-id, mcp-protocol-version, last-event-id"
const exposedHeaders = "mcp-session-id, mcp-protocol-version, retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset"

type Method = HttpRouter.Route<never, never>["method"]
type Handler<E, R> = Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>
/** A handler may answer with a refusal; it is written in the route's wire format like the guard's own. */
type Guarded<E, R> = Effect.Effect<HttpServerResponse.HttpServerResponse | EdgeError, E, R>

const isBodyTooLarge = (error: unknown) => {
  const reason = (error as { readonly _tag?: string; readonly reason?: { readonly _tag?: string; readonly reason?: string } })
  return reason._tag === "HttpServerError" && reason.reason?._tag === "RequestParseError" && reason.reason.reason === "BodyTooLarge"
}

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

/** A request that announces a body; refusing it unread closes the connection, so the rest is never read. */
const hasBody = (headers: Readonly<Record<string, string | undefined>>) =>
  (headers["content-length"] !== undefined && headers["content-length"] !== "0") || headers["transfer-encoding"] !== undefined

export class AccessGuard extends Context.Service<AccessGuard, {
  /** A route whose handler runs only for callers its access admits; it is added to the route table. */
  readonly route: <E, R>(method: Method, path: `/${string}` | "*", access: Access, handler: Guarded<E, R>) => HttpRouter.Route<never, Exclude<R, CurrentCaller>>
  /** Guards the routes a Layer registers itself (the JSON-RPC route), declared here as `method path`. */
  readonly middleware: (method: Method, path: string, access: Access) => <E, R>(handler: Guarded<E, R>) => Handler<never, Exclude<R, CurrentCaller>>
  /** Every route declared so far, with its access in words. */
  readonly routes: () => ReadonlyArray<DeclaredRoute>
}>()("mcp-router/http/AccessGuard") {
  static readonly layer = Layer.effect(
    AccessGuard,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const ipGuard = yield* IpGuard
      const auth = yield* Auth
      const limits = yield* RateLimits
      const stats = yield* SecurityStats
      const keyWatch = yield* KeyWatch
      const declared: Array<DeclaredRoute> = []

      const guard = <E, R>(label: string, access: Access, handle: Guarded<E, R>): Handler<never, Exclude<R, CurrentCaller>> =>
        Effect.gen(function*() {
          const request = yield* HttpServerRequest.HttpServerRequest
          const matched = yield* Effect.serviceOption(MatchedRoute)
          if (Option.isSome(matched)) matched.value.path = label
          const security = config.current().security
          const headers = request.headers
          const closeAfter = hasBody(headers) ? { connection: "close" } : {}
          const refuse = (error: EdgeError, extra: Record<string, string> = {}) =>
            refusalResponse(error, access.wire === "jsonrpc", { ...closeAfter, ...extra })

          // 1. addresses refused before anything else runs
          const ip = ipGuard.clientIp(Option.getOrElse(request.remoteAddress, () => "unknown"), headers["x-forwarded-for"])
          const blocked = ipGuard.refusal(ip)
          if (blocked !== undefined) {
            yield* stats.record("blocked", "address")
            return refuse(new AddressBlocked({ ip, reason: blocked }))
          }

          // 2. browsers and DNS rebinding: Origin, then Host; a CORS preflight is answered here
          const origin = originCheck(headers, security.allowedOrigins, config.current().server.host)
          if (origin.refused !== undefined) {
            yield* stats.record("blocked", origin.refused.kind)
            return refuse(origin.refused.error)
          }
          const cors = origin.origin === undefined ? {} : corsHeaders(origin.origin, origin.wildcard)
          if (request.method === "OPTIONS" && origin.origin !== undefined && headers["access-control-request-method"] !== undefined) {
            return HttpServerResponse.empty({
              status: 204,
              headers: { ...cors, "access-control-allow-methods": "GET, POST, DELETE, OPTIONS", "access-control-allow-headers": allowedHeaders, "access-control-max-age": "600" }
            })
          }

          // 3. who is calling, from the headers alone; public routes serve callers whose key failed as anonymous
          const credential = credentialFrom(headers, request.url, security.allowQueryApiKey)
          const identity: Identity | EdgeError = access.keyLater === true && credential === undefined && security.requireApiKey
            ? { permissions: [] }
            : yield* auth.authenticate(credential, ip).pipe(
              Effect.catch((error): Effect.Effect<Identity | EdgeError> => Effect.succeed(access.need === "none" ? { permissions: [] } : error))
            )
          if ("_tag" in identity) return refuse(identity, cors)

          // 4. the route's own permission
          if (access.need !== "none" && access.need !== "key") {
            const denied = yield* auth.check(identity, access.need).pipe(Effect.flip, Effect.option)
            if (Option.isSome(denied)) return refuse(denied.value, cors)
          }

          // 5. rate limits of routes that count requests (tool calls are counted one by one in the Router)
          let limitState: RateLimitState | undefined
          if (access.countRequests) {
            const consumed = yield* limits.consume({ ...identity, ip }).pipe(Effect.result)
            if (consumed._tag === "Failure") return refuse(consumed.failure, cors)
            limitState = consumed.success
          }

          // 6. bodies over the cap: refused on the declared length, or cut while streaming
          const declaredLength = Number(headers["content-length"] ?? 0)
          if (declaredLength > security.maxPayloadBytes) return refuse(new PayloadTooLarge({ limit: security.maxPayloadBytes }), cors)
          const maxBodySize = ByteSize.fromInputUnsafe(security.maxPayloadBytes)
          if (access.body && headers["content-length"] === undefined && headers["transfer-encoding"] !== undefined) {
            // a body of unknown length is read here, under the cap; the route then reads the cached copy
            const read = yield* request.arrayBuffer.pipe(Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize), Effect.result)
            if (read._tag === "Failure" && isBodyTooLarge(read.failure)) return refuse(new PayloadTooLarge({ limit: security.maxPayloadBytes }), cors)
          }

          const caller: Caller = { transport: access.transport, ...identity, ip }
          const served = handle.pipe(
            Effect.map((answer) => (HttpServerResponse.isHttpServerResponse(answer) ? answer : refuse(answer, cors))),
            Effect.provideService(CurrentCaller, caller),
            Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBodySize),
            Effect.catchCause((cause) => {
              if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause)
              if (isBodyTooLarge(Cause.squash(cause))) return Effect.succeed(refuse(new PayloadTooLarge({ limit: security.maxPayloadBytes }), cors))
              return Effect.logError("request failed", cause).pipe(
                Effect.as(errorResponse(500, "internal_error", "The router failed to handle this request; its log has the details"))
              )
            })
          )
          const timeout = access.timed
            ? {
              ms: config.current().server.timeout,
              answer: () => errorResponse(503, "request_timeout", `The request took longer than ${config.current().server.timeout} ms (server.timeout)`)
            }
            : undefined
          const response = identity.keyId === undefined || access.keyLater === true
            ? yield* (timeout === undefined ? served : runWatched(served, { timeout }))
            : yield* endedWithKey(identity.keyId, served, timeout, (end) => refuse(new Unauthenticated({ reason: end }), cors))
          // a body sent to a route that reads none is left unread: the connection closes after the answer
          const unread = access.body ? {} : closeAfter
          return HttpServerResponse.setHeaders(response, { ...cors, ...unread, ...(limitState === undefined ? {} : rateLimitHeaders(limitState)) })
        }) as Handler<never, Exclude<R, CurrentCaller>>

      /**
       * Runs a request of a key, ending it when the key is revoked or expires: a request still running
       * is answered 401; a response still streaming stops.
       */
      const endedWithKey = (
        keyId: string,
        served: Handler<unknown, unknown>,
        timeout: Watch<HttpServerResponse.HttpServerResponse>["timeout"],
        refusal: (end: KeyEnd) => HttpServerResponse.HttpServerResponse
      ) =>
        Effect.suspend(() => {
          // what the key's end does now: stop the request, then stop its response's stream
          let onEnd: ((end: KeyEnd) => void) | undefined
          let ended: KeyEnd | undefined
          const unregister = keyWatch.register(keyId, (end) => {
            ended = end
            onEnd?.(end)
          })
          const stopWhen = (stop: (answer: HttpServerResponse.HttpServerResponse) => void) => {
            if (ended !== undefined) stop(refusal(ended))
            else onEnd = (end) => stop(refusal(end))
            return () => void (onEnd = undefined)
          }
          const endOfKey = Effect.callback<void>((resume) => {
            if (ended !== undefined) return resume(Effect.void)
            onEnd = () => resume(Effect.void)
          })
          return runWatched(served, { timeout, stopWhen }).pipe(
            Effect.map((response) => {
              if (response.body._tag !== "Stream") return (unregister(), response)
              const stream = response.body.stream.pipe(Stream.interruptWhen(endOfKey), Stream.ensuring(Effect.sync(unregister)))
              return HttpServerResponse.setBody(response, HttpBody.stream(stream, response.body.contentType, response.body.contentLength))
            }),
            Effect.onExit((exit) => (exit._tag === "Failure" ? Effect.sync(unregister) : Effect.void))
          )
        })

      const declare = (method: Method, path: string, access: Access) => {
        declared.push({ method, path, access: describeAccess(access) })
      }

      return AccessGuard.of({
        route: (method, path, access, handler) => {
          declare(method, path, access)
          return HttpRouter.route(method, path, guard(path, access, handler))
        },
        middleware: (method, path, access) => {
          declare(method, path, access)
          return (handler) => guard(path, access, handler)
        },
        routes: () => declared
      })
    })
  )
}

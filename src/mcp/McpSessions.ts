/**
 * MCP sessions at /mcp belong to the key (or, without keys, the address) that opened them: another
 * caller's requests for a session get 404. Sessions are capped per key and in total, end after
 * `mcp.sessionIdleTimeout` without use, and end within a second of their key's revocation or expiry.
 * effect's MCP transport keeps the session state; this module decides who may use it and ends it
 * through the transport's own DELETE, so its memory goes too.
 */
import { Context, Duration, Effect, Layer, Option, Schedule } from "effect"
import { HttpEffect, HttpServerRequest, HttpServerResponse } from "effect/http"
import { refusalResponse } from "../http/jsonResponse.ts"
import { AppConfig } from "../config/AppConfig.ts"
import { CurrentCaller, InternalRequest } from "../router/CurrentCaller.ts"
import type { Caller } from "../router/Caller.ts"
import { KeyWatch } from "../security/KeyWatch.ts"
import { BatchTooLarge, type McpEdgeError, SessionLimit, SessionNotFound, UnsupportedProtocolVersion } from "./McpSessionErrors.ts"
import { mcpProtocols } from "./protocols.ts"

type Handler<E, R> = Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>

/** How long requests in flight of an ended key have to be answered before its sessions go. */
const afterKeyEnd = Duration.seconds(1)

const supportedVersions: ReadonlyArray<string> = mcpProtocols.map((protocol) => protocol.protocolVersion)

interface Session {
  readonly owner: string
  readonly caller: Caller
  lastUsed: number
  /** The revision negotiated at initialize: requests naming another supported one are served as this one. */
  readonly protocolVersion: string | undefined
  readonly unwatch: () => void
}

/** The request with other headers; the body already read stays cached (a `modify` copy would lose it). */
export const withHeaders = (request: HttpServerRequest.HttpServerRequest, headers: Record<string, string>) =>
  Object.create(request, { headers: { value: headers } }) as HttpServerRequest.HttpServerRequest

/** The number of messages of a JSON-RPC batch body, or undefined for a single message or no JSON. */
const batchSize = (body: string) => {
  if (!body.trimStart().startsWith("[")) return undefined
  try {
    const parsed: unknown = JSON.parse(body)
    return Array.isArray(parsed) ? parsed.length : undefined
  } catch {
    return undefined
  }
}

export class McpSessions extends Context.Service<McpSessions, {
  /** Runs a /mcp request of the current caller, or refuses it with the error to send. */
  readonly serve: <E, R>(handler: Handler<E, R>) => Effect.Effect<HttpServerResponse.HttpServerResponse | McpEdgeError, E, R | CurrentCaller | HttpServerRequest.HttpServerRequest>
  /** How requests reach the HTTP app: set once the app is built, used to end sessions through it. */
  readonly setDispatcher: (dispatch: (request: HttpServerRequest.HttpServerRequest, caller: Caller) => Effect.Effect<unknown>) => void
  readonly stats: () => { readonly open: number; readonly owners: number; readonly maxSessions: number; readonly maxSessionsPerKey: number }
}>()("mcp-router/mcp/McpSessions") {
  static readonly layer = Layer.effect(
    McpSessions,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const keyWatch = yield* KeyWatch
      const sessions = new Map<string, Session>()
      const perOwner = new Map<string, number>()
      let dispatch: ((request: HttpServerRequest.HttpServerRequest, caller: Caller) => Effect.Effect<unknown>) | undefined

      const forget = (id: string) => {
        const session = sessions.get(id)
        if (session === undefined) return undefined
        sessions.delete(id)
        session.unwatch()
        const count = (perOwner.get(session.owner) ?? 1) - 1
        if (count === 0) perOwner.delete(session.owner)
        else perOwner.set(session.owner, count)
        return session
      }

      /** Ends a session in effect's transport with its own DELETE, as the session's owner. */
      const end = (id: string, caller: Caller, protocolVersion: string | undefined) =>
        dispatch === undefined
          ? Effect.void
          : dispatch(
            HttpServerRequest.fromWeb(new Request("http://router.internal/mcp", {
              method: "DELETE",
              headers: { "mcp-session-id": id, ...(protocolVersion === undefined ? {} : { "mcp-protocol-version": protocolVersion }) }
            })),
            caller
          ).pipe(Effect.ignore)

      const endNow = (id: string) => {
        const session = forget(id)
        return session === undefined ? Effect.void : end(id, session.caller, session.protocolVersion)
      }

      const expire = Effect.suspend(() => {
        const idleBefore = Date.now() - config.current().mcp.sessionIdleTimeout
        const idle = [...sessions].filter(([, session]) => session.lastUsed < idleBefore).map(([id]) => id)
        return Effect.forEach(idle, endNow, { discard: true })
      })
      const sweepEvery = Duration.millis(Math.max(250, Math.min(config.current().mcp.sessionIdleTimeout / 4, 30_000)))
      yield* expire.pipe(Effect.repeat(Schedule.spaced(sweepEvery)), Effect.forkScoped)

      const context = yield* Effect.context<never>()
      const open = (id: string, owner: string, caller: Caller, protocolVersion: string | undefined) => {
        const unwatch = caller.keyId === undefined
          ? () => {}
          : keyWatch.register(caller.keyId, () => {
            // the session is unusable at once; effect's transport lets it go once the requests in flight
            // have been answered 401 (ending it first would turn their answer into its own 404)
            const session = forget(id)
            if (session !== undefined) Effect.runForkWith(context)(Effect.delay(end(id, session.caller, session.protocolVersion), afterKeyEnd))
          })
        sessions.set(id, { owner, caller, lastUsed: Date.now(), protocolVersion, unwatch })
        perOwner.set(owner, (perOwner.get(owner) ?? 0) + 1)
      }

      /** Keeps a session the response just opened, or ends it at once past a cap and refuses. */
      const admitNew = (response: HttpServerResponse.HttpServerResponse, owner: string, caller: Caller) => {
        const created = response.headers["mcp-session-id"]
        if (created === undefined || sessions.has(created)) return Effect.succeed(response)
        const { maxSessions, maxSessionsPerKey } = config.current().mcp
        const negotiated = response.headers["mcp-protocol-version"]
        const refusal = sessions.size >= maxSessions
          ? new SessionLimit({ scope: "total", limit: maxSessions })
          : (perOwner.get(owner) ?? 0) >= maxSessionsPerKey
          ? new SessionLimit({ scope: "key", limit: maxSessionsPerKey })
          : undefined
        if (refusal === undefined) {
          open(created, owner, caller, negotiated)
          return Effect.succeed(response)
        }
        return end(created, caller, negotiated).pipe(Effect.as(refusalResponse(refusal, true)))
      }

      const serve = <E, R>(handler: Handler<E, R>) =>
        Effect.gen(function*() {
          if (Option.isSome(yield* Effect.serviceOption(InternalRequest))) return yield* handler
          const request = yield* HttpServerRequest.HttpServerRequest
          const caller = yield* CurrentCaller
          const owner = caller.keyId ?? `address:${caller.ip ?? "unknown"}`
          const settings = config.current()

          const version = request.headers["mcp-protocol-version"]
          if (version !== undefined && !supportedVersions.includes(version)) {
            return new UnsupportedProtocolVersion({ version, supported: supportedVersions })
          }
          const id = request.headers["mcp-session-id"]
          let forwarded = request
          if (id !== undefined) {
            const session = sessions.get(id)
            if (session === undefined || session.owner !== owner) return new SessionNotFound()
            session.lastUsed = Date.now()
            if (version !== undefined && session.protocolVersion !== undefined && version !== session.protocolVersion) {
              forwarded = withHeaders(request, { ...request.headers, "mcp-protocol-version": session.protocolVersion })
            }
          }
          if (request.method === "POST") {
            // batches are refused whole past the cap; the body is read once, effect's transport reuses it
            const body = yield* Effect.option(request.text)
            const size = Option.isSome(body) ? batchSize(body.value) : undefined
            if (size !== undefined && size > settings.security.maxBatchSize) return new BatchTooLarge({ size, limit: settings.security.maxBatchSize })
          }

          const response = yield* Effect.provideService(handler, HttpServerRequest.HttpServerRequest, forwarded)
          // effect's transport sets the id of a new session just before the response is sent
          if (id === undefined) yield* HttpEffect.appendPreResponseHandler((_, sent) => admitNew(sent, owner, caller))
          if (request.method === "DELETE" && id !== undefined && response.status < 300) forget(id)
          return response
        })

      return McpSessions.of({
        serve,
        setDispatcher: (f) => {
          dispatch = f
        },
        stats: () => ({
          open: sessions.size,
          owners: perOwner.size,
          maxSessions: config.current().mcp.maxSessions,
          maxSessionsPerKey: config.current().mcp.maxSessionsPerKey
        })
      })
    })
  )
}

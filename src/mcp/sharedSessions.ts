/**
 * MCP sessions shared by replicas (with `redis.url`), so a load balancer need not be sticky. A session's
 * record (owner, revision, the client's capabilities and log level, its subscriptions) lives in Redis for
 * `mcp.sessionIdleTimeout` after its last use; a replica that gets a request for a session it does not
 * hold reads the record and serves it. What crosses replicas goes over the bus:
 * - a change of the record (initialize, logging/setLevel, subscribe): replicas holding a copy read it again;
 * - the end of a session (DELETE, its key revoked): replicas drop their copy;
 * - a client's answer to a request the router sent it, and a client's notifications/cancelled, when they
 *   land on a replica other than the one waiting for them or running the request.
 * A POST is served where it lands, with its stream; list changes go out from every replica to the GET
 * streams it holds; resource updates from the replica holding the GET stream (it subscribes upstream
 * when it takes the session on).
 */
import * as Effect from "effect/Effect"
import type { SharedBusService } from "../shared/SharedBus.ts"
import type { RequestId } from "./jsonRpc.ts"

export interface SessionRecord {
  readonly owner: string
  readonly protocolVersion: string
  readonly capabilities: Readonly<Record<string, unknown>>
  readonly clientInfo?: Readonly<Record<string, unknown>> | undefined
  readonly logLevel?: number | undefined
  readonly subscriptions: ReadonlyArray<string>
}

type Notice =
  | { readonly kind: "changed"; readonly session: string; readonly from: string }
  | { readonly kind: "ended"; readonly session: string; readonly from: string }
  | { readonly kind: "answer"; readonly session: string; readonly from: string; readonly id: RequestId; readonly result?: unknown; readonly error?: { readonly code: number; readonly message: string; readonly data?: unknown } }
  | { readonly kind: "cancel"; readonly session: string; readonly from: string; readonly requestId: RequestId }

export interface SharedSessionEvents {
  readonly changed: (session: string) => void
  readonly ended: (session: string) => void
  readonly answer: (session: string, id: RequestId, result: unknown, error: { readonly code: number; readonly message: string; readonly data?: unknown } | undefined) => void
  readonly cancel: (session: string, requestId: RequestId) => void
}

const channel = "mcp-router:sessions"
const keyOf = (id: string) => `mcp-router:session:${id}`
/** Longest record accepted from Redis: a record holds at most a few hundred subscriptions. */
const maxRecordBytes = 256 * 1024

const parse = (text: unknown): SessionRecord | undefined => {
  if (typeof text !== "string" || text.length > maxRecordBytes) return undefined
  try {
    const value = JSON.parse(text) as SessionRecord
    return typeof value.owner === "string" && typeof value.protocolVersion === "string" && Array.isArray(value.subscriptions) ? value : undefined
  } catch {
    return undefined
  }
}

export const makeSharedSessions = (bus: SharedBusService, idleTimeoutMs: () => number) => {
  const send = (notice: Notice) => bus.publishUnsafe(channel, JSON.stringify(notice))
  const from = bus.replicaId
  // Redis failing degrades sessions to this replica: a request for one held elsewhere gets 404
  const quietly = <A>(effect: Effect.Effect<A, unknown>, fallback: A) => effect.pipe(Effect.orElseSucceed(() => fallback))
  return {
    save: (id: string, record: SessionRecord, announce: boolean) =>
      quietly(bus.redis!.send("SET", keyOf(id), JSON.stringify(record), "PX", String(idleTimeoutMs())), undefined).pipe(
        Effect.tap(() => Effect.sync(() => announce && send({ kind: "changed", session: id, from })))
      ),
    load: (id: string) => quietly(Effect.map(bus.redis!.send<string | null>("GET", keyOf(id)), parse), undefined),
    /** Keeps the record for another idle timeout: fire and forget, as a session is used. */
    touch: (id: string) => Effect.runFork(quietly(bus.redis!.send("PEXPIRE", keyOf(id), String(idleTimeoutMs())), undefined)),
    /** Ends the session everywhere: its record goes, then the other replicas drop their copies. */
    remove: (id: string) => quietly(bus.redis!.send("DEL", keyOf(id)), undefined).pipe(Effect.tap(() => Effect.sync(() => send({ kind: "ended", session: id, from })))),
    answer: (session: string, id: RequestId, result: unknown, error: { readonly code: number; readonly message: string; readonly data?: unknown } | undefined) =>
      send({ kind: "answer", session, from, id, ...(error === undefined ? { result } : { error }) }),
    cancel: (session: string, requestId: RequestId) => send({ kind: "cancel", session, from, requestId }),
    /** Receives the other replicas' notices while the scope lasts. */
    listen: (events: SharedSessionEvents) =>
      bus.subscribe(channel, (text) => {
        let notice: Notice
        try {
          notice = JSON.parse(text) as Notice
        } catch {
          return
        }
        if (notice.from === from || typeof notice.session !== "string") return
        switch (notice.kind) {
          case "changed":
            return events.changed(notice.session)
          case "ended":
            return events.ended(notice.session)
          case "answer":
            return events.answer(notice.session, notice.id, notice.result, notice.error)
          case "cancel":
            return events.cancel(notice.session, notice.requestId)
        }
      })
  }
}

export type SharedSessions = ReturnType<typeof makeSharedSessions>

/** What a record says of a caller's session. */
export const recordOf = (owner: string, peer: { readonly protocolVersion: string; readonly capabilities: Readonly<Record<string, unknown>>; readonly clientInfo: Readonly<Record<string, unknown>> | undefined; readonly logLevel: number | undefined; readonly subscriptions: ReadonlySet<string> }): SessionRecord => ({
  owner,
  protocolVersion: peer.protocolVersion,
  capabilities: peer.capabilities,
  clientInfo: peer.clientInfo,
  logLevel: peer.logLevel,
  subscriptions: [...peer.subscriptions]
})

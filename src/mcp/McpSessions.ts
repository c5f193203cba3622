/**
 * MCP sessions at /mcp. A session belongs to the key (or, without keys, the address) that opened it:
 * another caller's requests for it get 404. Sessions are capped per key and in total (per replica), end
 * after `mcp.sessionIdleTimeout` without use, and end within a second of their key's revocation or
 * expiry. Ending one closes its streams, fails what waits on its client, and frees its replay log.
 * With `redis.url`, sessions are shared by the replicas (see ./sharedSessions.ts).
 */
import { randomUUID } from "node:crypto"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { AppConfig } from "../config/AppConfig.ts"
import { mcpSessionsOpen } from "../observability/instruments.ts"
import type { Caller } from "../router/Caller.ts"
import { KeyWatch } from "../security/KeyWatch.ts"
import { SharedBus } from "../shared/SharedBus.ts"
import { McpEngine } from "./McpEngine.ts"
import { SessionLimit } from "./McpSessionErrors.ts"
import { Peer } from "./Peer.ts"
import { SessionStreams } from "./SessionStreams.ts"
import { makeSharedSessions, recordOf, type SessionRecord } from "./sharedSessions.ts"
import { ReplayBudget } from "./sse.ts"

export interface Session {
  readonly id: string
  readonly owner: string
  readonly peer: Peer
  readonly streams: SessionStreams
  lastUsed: number
  /** Requests of the session being served now: an idle sweep never ends a busy session. */
  busy: number
}

interface Held extends Session {
  readonly release: () => void
}

export const ownerOf = (caller: Caller) => caller.keyId ?? `address:${caller.ip ?? "unknown"}`

export class McpSessions extends Context.Service<McpSessions, {
  /** A new session for this caller, or the cap it would pass. */
  readonly open: (caller: Caller, protocolVersion: string) => Effect.Effect<Session | SessionLimit>
  /** The caller's session with this id; undefined for any other caller's, or one that ended. */
  readonly find: (id: string, caller: Caller) => Effect.Effect<Session | undefined>
  /** Shares what the client declared or asked for since (initialize, log level, subscriptions). */
  readonly persist: (session: Session) => Effect.Effect<void>
  readonly end: (id: string) => Effect.Effect<void>
  readonly stats: () => { readonly open: number; readonly owners: number; readonly maxSessions: number; readonly maxSessionsPerKey: number }
}>()("mcp-router/mcp/McpSessions") {
  static readonly layer = Layer.effect(
    McpSessions,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const keyWatch = yield* KeyWatch
      const engine = yield* McpEngine
      const bus = yield* Effect.serviceOption(SharedBus)
      const sessions = new Map<string, Held>()
      const perOwner = new Map<string, number>()
      const budget = new ReplayBudget(config.current().mcp.replayBytes)
      const runSync = Effect.runSyncWith(yield* Effect.context<never>())
      const counted = () => runSync(Metric.update(mcpSessionsOpen, sessions.size))
      counted()
      const shared = Option.isSome(bus) && bus.value.enabled && bus.value.redis !== undefined
        ? makeSharedSessions(bus.value, () => config.current().mcp.sessionIdleTimeout)
        : undefined

      /** Lets go of this replica's copy of a session (its shared record stays, see `end`). */
      const drop = (id: string) => {
        const session = sessions.get(id)
        if (session === undefined) return
        sessions.delete(id)
        session.release()
        session.peer.close()
        session.streams.close()
        const count = (perOwner.get(session.owner) ?? 1) - 1
        if (count === 0) perOwner.delete(session.owner)
        else perOwner.set(session.owner, count)
        counted()
      }
      /** Ends a session, everywhere once its record is gone. */
      const end = (id: string) =>
        Effect.suspend(() => {
          drop(id)
          return shared === undefined ? Effect.void : shared.remove(id)
        })

      const expire = Effect.sync(() => {
        const idleBefore = Date.now() - config.current().mcp.sessionIdleTimeout
        // shared: only this copy goes; the record expires in Redis on its own
        for (const [id, session] of sessions) if (session.busy === 0 && !session.streams.listening() && session.lastUsed < idleBefore) drop(id)
      })
      const sweepEvery = Duration.millis(Math.max(250, Math.min(config.current().mcp.sessionIdleTimeout / 4, 30_000)))
      yield* expire.pipe(Effect.repeat(Schedule.spaced(sweepEvery)), Effect.forkScoped)
      yield* Effect.addFinalizer(() => Effect.sync(() => [...sessions.keys()].forEach(drop)))

      /** Holds a session on this replica: a new one, or one taken on from the shared record. */
      const hold = (id: string, caller: Caller, protocolVersion: string): Held | SessionLimit => {
        const owner = ownerOf(caller)
        const { maxSessions, maxSessionsPerKey, replayEvents } = config.current().mcp
        if (sessions.size >= maxSessions) return new SessionLimit({ scope: "total", limit: maxSessions })
        if ((perOwner.get(owner) ?? 0) >= maxSessionsPerKey) return new SessionLimit({ scope: "key", limit: maxSessionsPerKey })
        const streams = new SessionStreams(budget, replayEvents)
        const peer = new Peer(id, caller, protocolVersion, streams)
        streams.protocolVersion = () => peer.protocolVersion
        if (shared !== undefined) peer.elsewhere = { answer: (request, result, error) => shared.answer(id, request, result, error), cancel: (request) => shared.cancel(id, request) }
        const detach = engine.attach(peer)
        // requests of the key in flight are answered 401 at the edge; the session ends at once
        const unwatch = caller.keyId === undefined ? () => {} : keyWatch.register(caller.keyId, () => void Effect.runFork(end(id)))
        const held: Held = { id, owner, peer, streams, lastUsed: Date.now(), busy: 0, release: () => (detach(), unwatch()) }
        sessions.set(id, held)
        perOwner.set(owner, (perOwner.get(owner) ?? 0) + 1)
        counted()
        return held
      }

      const adopt = (session: Held, record: SessionRecord) => {
        const peer = session.peer
        peer.protocolVersion = record.protocolVersion
        peer.capabilities = record.capabilities
        peer.clientInfo = record.clientInfo
        peer.logLevel = record.logLevel
        return engine.subscribeAs(peer, record.subscriptions)
      }

      const open = (caller: Caller, protocolVersion: string) =>
        Effect.suspend(() => {
          const held = hold(randomUUID(), caller, protocolVersion)
          if (held instanceof SessionLimit || shared === undefined) return Effect.succeed(held)
          return Effect.as(shared.save(held.id, recordOf(held.owner, held.peer), false), held)
        })

      const find = (id: string, caller: Caller): Effect.Effect<Session | undefined> =>
        Effect.suspend(() => {
          const owner = ownerOf(caller)
          const local = sessions.get(id)
          if (local !== undefined) {
            if (local.owner !== owner || local.peer.closed) return Effect.succeed(undefined)
            local.lastUsed = Date.now()
            shared?.touch(id)
            return Effect.succeed(local)
          }
          if (shared === undefined || id.length > 64) return Effect.succeed(undefined)
          // a session opened on another replica: taken on here from its record
          return Effect.flatMap(shared.load(id), (record) => {
            if (record === undefined || record.owner !== owner) return Effect.succeed(undefined)
            const held = hold(id, caller, record.protocolVersion)
            if (held instanceof SessionLimit) return Effect.succeed(undefined)
            shared.touch(id)
            return Effect.as(adopt(held, record), held)
          })
        })

      if (shared !== undefined) {
        yield* shared.listen({
          changed: (id) => {
            const session = sessions.get(id)
            if (session === undefined) return
            Effect.runFork(Effect.flatMap(shared.load(id), (record) => (record === undefined ? Effect.sync(() => drop(id)) : adopt(session, record))))
          },
          ended: (id) => drop(id),
          answer: (id, request, result, error) => void sessions.get(id)?.peer.answer(request, result, error),
          cancel: (id, request) => {
            const fiber = sessions.get(id)?.peer.runningRequest(request)
            if (fiber !== undefined) Effect.runFork(Fiber.interrupt(fiber))
          }
        })
      }

      return McpSessions.of({
        open,
        find,
        persist: (session) => (shared === undefined ? Effect.void : shared.save(session.id, recordOf(session.owner, session.peer), true)),
        end,
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

/**
 * MCP sessions at /mcp. A session belongs to the key (or, without keys, the address) that opened it:
 * another caller's requests for it get 404. Sessions are capped per key and in total, end after
 * `mcp.sessionIdleTimeout` without use, and end within a second of their key's revocation or expiry.
 * Ending one closes its streams, fails what waits on its client, and frees its replay log.
 */
import { randomUUID } from "node:crypto"
import { Context, Duration, Effect, Layer, Schedule } from "effect"
import { AppConfig } from "../config/AppConfig.ts"
import type { Caller } from "../router/Caller.ts"
import { KeyWatch } from "../security/KeyWatch.ts"
import { McpEngine } from "./McpEngine.ts"
import { SessionLimit } from "./McpSessionErrors.ts"
import { Peer } from "./Peer.ts"
import { SessionStreams } from "./SessionStreams.ts"
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

export const ownerOf = (caller: Caller) => caller.keyId ?? `address:${caller.ip ?? "unknown"}`

export class McpSessions extends Context.Service<McpSessions, {
  /** A new session for this caller, or the cap it would pass. */
  readonly open: (caller: Caller, protocolVersion: string) => Session | SessionLimit
  /** The caller's session with this id; undefined for any other caller's, or one that ended. */
  readonly find: (id: string, caller: Caller) => Session | undefined
  readonly end: (id: string) => void
  readonly stats: () => { readonly open: number; readonly owners: number; readonly maxSessions: number; readonly maxSessionsPerKey: number }
}>()("mcp-router/mcp/McpSessions") {
  static readonly layer = Layer.effect(
    McpSessions,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const keyWatch = yield* KeyWatch
      const engine = yield* McpEngine
      const sessions = new Map<string, Session & { readonly release: () => void }>()
      const perOwner = new Map<string, number>()
      const budget = new ReplayBudget(config.current().mcp.replayBytes)

      const end = (id: string) => {
        const session = sessions.get(id)
        if (session === undefined) return
        sessions.delete(id)
        session.release()
        session.peer.close()
        session.streams.close()
        const count = (perOwner.get(session.owner) ?? 1) - 1
        if (count === 0) perOwner.delete(session.owner)
        else perOwner.set(session.owner, count)
      }

      const expire = Effect.sync(() => {
        const idleBefore = Date.now() - config.current().mcp.sessionIdleTimeout
        for (const [id, session] of sessions) if (session.busy === 0 && !session.streams.listening() && session.lastUsed < idleBefore) end(id)
      })
      const sweepEvery = Duration.millis(Math.max(250, Math.min(config.current().mcp.sessionIdleTimeout / 4, 30_000)))
      yield* expire.pipe(Effect.repeat(Schedule.spaced(sweepEvery)), Effect.forkScoped)
      yield* Effect.addFinalizer(() => Effect.sync(() => [...sessions.keys()].forEach(end)))

      const open = (caller: Caller, protocolVersion: string): Session | SessionLimit => {
        const owner = ownerOf(caller)
        const { maxSessions, maxSessionsPerKey, replayEvents } = config.current().mcp
        if (sessions.size >= maxSessions) return new SessionLimit({ scope: "total", limit: maxSessions })
        if ((perOwner.get(owner) ?? 0) >= maxSessionsPerKey) return new SessionLimit({ scope: "key", limit: maxSessionsPerKey })
        const id = randomUUID()
        const streams = new SessionStreams(budget, replayEvents)
        const peer = new Peer(id, caller, protocolVersion, streams)
        streams.protocolVersion = () => peer.protocolVersion
        const detach = engine.attach(peer)
        // requests of the key in flight are answered 401 at the edge; the session ends at once
        const unwatch = caller.keyId === undefined ? () => {} : keyWatch.register(caller.keyId, () => end(id))
        sessions.set(id, {
          id,
          owner,
          peer,
          streams,
          lastUsed: Date.now(),
          busy: 0,
          release: () => {
            detach()
            unwatch()
          }
        })
        perOwner.set(owner, (perOwner.get(owner) ?? 0) + 1)
        return sessions.get(id)!
      }

      const find = (id: string, caller: Caller) => {
        const session = sessions.get(id)
        if (session === undefined || session.owner !== ownerOf(caller) || session.peer.closed) return undefined
        session.lastUsed = Date.now()
        return session
      }

      return McpSessions.of({
        open,
        find,
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

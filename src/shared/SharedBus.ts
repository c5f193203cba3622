/**
 * What the replicas of one router share through Redis (`redis.url`): messages by channel (tool
 * executions and alerts for the WebSocket hubs, key revocations; sessions later), the Redis commands
 * behind the shared rate limits, and the state of the connection, which readiness, alerts and the
 * rate limits read.
 *
 * Without `redis.url` the bus is disabled: publishing does nothing, nothing is received, everything stays
 * in this process, and nothing of Redis is loaded: the client lives in ./redisBus.ts, imported only when
 * a URL is set.
 *
 * With it, losing Redis degrades, it never refuses traffic: rate limits fall back to per-replica memory,
 * events stay on this replica, revocations reach the others through the key store (KeyWatch polls it);
 * the client reconnects on its own, and sharing resumes once it has.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import type * as Redis from "effect/persistence/Redis"
import { AppConfig } from "../config/AppConfig.ts"

/**
 * `connecting`: Redis has not answered yet since the start; `disconnected`: it cannot be reached (at the
 * start or since the connection was lost); `disabled`: no `redis.url`.
 */
export type SharedStatus = "disabled" | "connecting" | "connected" | "disconnected"

export interface SharedBusService {
  /** Whether `redis.url` is set. */
  readonly enabled: boolean
  /** This router's id on the bus; every message carries its sender's, so a replica can skip its own. */
  readonly replicaId: string
  /** Where Redis is, without a password: for logs and reasons. */
  readonly target: string
  readonly status: () => SharedStatus
  /** Why Redis cannot be reached now (the last connection error), while it cannot. */
  readonly problem: () => string | undefined
  /** Calls `listener` at every change of status until the scope closes. Listeners must not throw. */
  readonly onStatus: (listener: (status: SharedStatus) => void) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Sends `message` to every router subscribed to `channel`, this one included, and tells whether it was
   * sent: never while disconnected (nothing is queued), never when disabled.
   */
  readonly publish: (channel: string, message: string) => Effect.Effect<boolean>
  /** `publish` for synchronous callers: fire and forget. */
  readonly publishUnsafe: (channel: string, message: string) => void
  /**
   * Calls `onMessage` with every message on `channel` (from any router, this one included) while the
   * scope lasts. Survives reconnections; messages sent while disconnected are not received.
   */
  readonly subscribe: (channel: string, onMessage: (message: string) => void) => Effect.Effect<void, never, Scope.Scope>
  /**
   * Effect's `Redis` service on the bus's connection, for commands (the rate limiter's store); its
   * commands fail at once while disconnected. `undefined` when disabled.
   */
  readonly redis: Context.Service.Shape<typeof Redis.Redis> | undefined
  /** Asks Redis (PING) within `timeoutMs`: undefined when it answered, else why it did not. */
  readonly ping: (timeoutMs: number) => Effect.Effect<string | undefined>
}

/** The bus without Redis: nothing leaves this process. */
export const disabledBus: SharedBusService = {
  enabled: false,
  replicaId: "local",
  target: "",
  status: () => "disabled",
  problem: () => undefined,
  onStatus: () => Effect.void,
  publish: () => Effect.succeed(false),
  publishUnsafe: () => {},
  subscribe: () => Effect.void,
  redis: undefined,
  ping: () => Effect.succeed(undefined)
}

/** A Redis URL as it may be shown: without its password. */
export const redisTarget = (url: string) => url.replace(/^(rediss?:\/\/[^:/@]*):[^@]*@/iu, "$1:[REDACTED]@")

export class SharedBus extends Context.Service<SharedBus, SharedBusService>()("mcp-router/shared/SharedBus") {
  /** No Redis: for embedding and tests. */
  static readonly layerDisabled = Layer.succeed(SharedBus, disabledBus)

  /**
   * Redis at `url`: connected before the layer is built when Redis answers within a few seconds; else the
   * router starts degraded and connects as soon as Redis can be reached.
   */
  static readonly layerRedis = (url: string) =>
    Layer.unwrap(Effect.map(Effect.promise(() => import("./redisBus.ts")), (module) => module.layer(url)))

  /** From `redis.url` (read at start): disabled when unset. */
  static readonly layer = Layer.unwrap(
    AppConfig.use((config) =>
      Effect.sync(() => {
        const url = config.current().redis.url
        return url === undefined ? SharedBus.layerDisabled : SharedBus.layerRedis(url)
      })
    )
  )
}

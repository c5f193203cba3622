/**
 * Tool calls (and the other API requests) per minute and per hour, per key (per client address when
 * anonymous). Limits: the key's own overrides, else security.adminRequestsPerMinute/PerHour for keys
 * holding `admin` or `*`, else security.maxRequestsPerMinute/PerHour. Every `tools/call` on every
 * transport is counted once, in `Router.call`; the HTTP edge counts the requests of the other routes.
 * Built on effect's RateLimiter. Its store is in memory, limits per process; with Redis (`redis.url`,
 * a SharedBus in the context) the counts are kept in Redis (effect's Redis store: one atomic script per
 * window), so a key's limit is the same whatever the number of replicas. While Redis cannot be reached
 * (or a count there fails or takes longer than `sharedTimeoutMs`), each replica counts in its own memory:
 * traffic is never refused for want of Redis; sharing resumes once it is back.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Redis from "effect/persistence/Redis"
import { AppConfig } from "../config/AppConfig.ts"
import { SharedBus } from "../shared/SharedBus.ts"
import type { SecurityConfig } from "../config/schema.ts"
import { RateLimited } from "./SecurityErrors.ts"
import { SecurityStats } from "./SecurityStats.ts"

export interface RateLimitState {
  readonly limit: number
  readonly remaining: number
  readonly resetSeconds: number
}

/** Whose budget a call or request is taken from, and the key's own limits. */
export interface RateLimitSubject {
  readonly keyId?: string | undefined
  readonly ip: string
  readonly ratePerMinute?: number | undefined
  readonly ratePerHour?: number | undefined
  /** The key's permissions: a key holding `admin` or `*` has the admin default limits. */
  readonly permissions?: ReadonlyArray<string> | undefined
}

/**
 * The limits of a subject per window. Admin defaults apply to keys only: an anonymous caller of a
 * server without requireApiKey holds `*` too, and stays on the ordinary per-address limits.
 */
export const limitsOf = (
  subject: RateLimitSubject,
  security: Pick<typeof SecurityConfig.Type, "maxRequestsPerMinute" | "maxRequestsPerHour" | "adminRequestsPerMinute" | "adminRequestsPerHour">
): { readonly minute: number; readonly hour: number } => {
  const admin = subject.keyId !== undefined && (subject.permissions ?? []).some((p) => p === "admin" || p === "*")
  return {
    minute: subject.ratePerMinute ?? (admin ? security.adminRequestsPerMinute : security.maxRequestsPerMinute),
    hour: subject.ratePerHour ?? (admin ? security.adminRequestsPerHour : security.maxRequestsPerHour)
  }
}

/** A count in Redis that takes longer falls back to memory: Redis answers in well under a millisecond. */
export const sharedTimeoutMs = 1_000
/** A failing count in Redis is logged at most this often (losing the connection is logged by the bus). */
const warnEveryMs = 10_000

type Limiter = Context.Service.Shape<typeof RateLimiter.RateLimiter>

/** What went wrong in the store, e.g. "The client is offline". */
const storeFailure = (reason: { readonly message: string; readonly cause?: unknown }) => {
  const cause = reason.cause as { readonly message?: unknown } | undefined
  return typeof cause?.message === "string" ? cause.message : reason.message
}

/** The limiter's store could not count (Redis unreachable, slow or failing). */
class StoreFailed extends Schema.TaggedError<StoreFailed>()("StoreFailed", { reason: Schema.String }) {}

export class RateLimits extends Context.Service<RateLimits, {
  /** Counts one tool call or request; fails when a window is full. The state is that of the tighter window. */
  readonly consume: (subject: RateLimitSubject) => Effect.Effect<RateLimitState, RateLimited>
}>()("mcp-router/security/RateLimits") {
  static readonly layer = Layer.effect(
    RateLimits,
    Effect.gen(function*() {
      const memory = yield* RateLimiter.RateLimiter
      const config = yield* AppConfig
      const stats = yield* SecurityStats
      const bus = Option.getOrUndefined(yield* Effect.serviceOption(SharedBus))
      const shared = bus?.redis === undefined ? undefined : yield* RateLimiter.make.pipe(
        Effect.provideServiceEffect(
          RateLimiter.RateLimiterStore,
          RateLimiter.makeStoreRedis({ prefix: "mcp-router:ratelimit:" }).pipe(Effect.provideService(Redis.Redis, bus.redis))
        )
      )
      const minute = { name: "minute" as const, duration: Duration.minutes(1) }
      const hour = { name: "hour" as const, duration: Duration.hours(1) }
      const bothWindows = [minute, hour]
      const minuteOnly = [minute]
      // fixed windows: an hour overlaps at most 61 minute windows, so an hour limit of 61 minutes' worth
      // or more can never be reached first and is not counted (one decision per call instead of two)
      const windowsOf = (limits: { readonly minute: number; readonly hour: number }) => limits.hour >= 61 * limits.minute ? minuteOnly : bothWindows

      /** Counts in one limiter; a failing store fails with StoreFailed. */
      const count = (limiter: Limiter, subject: RateLimitSubject) =>
        Effect.gen(function*() {
          const limits = limitsOf(subject, config.current().security)
          const key = subject.keyId ?? `ip:${subject.ip}`
          let tightest: RateLimitState | undefined
          for (const window of windowsOf(limits)) {
            const limit = limits[window.name]
            const result = yield* limiter.consume({
              key: `${window.name}:${key}`,
              limit,
              window: window.duration,
              onExceeded: "fail"
            }).pipe(
              Effect.catchReason("RateLimiterError", "RateLimitExceeded", (exceeded) =>
                stats.record("rateLimited").pipe(Effect.andThen(Effect.fail(new RateLimited({
                  limit,
                  window: window.name,
                  retryAfterSeconds: Math.max(1, Math.ceil(Duration.toMillis(exceeded.retryAfter) / 1000))
                }))))),
              Effect.catchTag("RateLimiterError", (error) => Effect.fail(new StoreFailed({ reason: storeFailure(error.reason) })))
            )
            const state = { limit, remaining: result.remaining, resetSeconds: Math.ceil(Duration.toMillis(result.resetAfter) / 1000) }
            if (tightest === undefined || state.remaining < tightest.remaining) tightest = state
          }
          return tightest ?? { limit: limits.minute, remaining: limits.minute, resetSeconds: 60 }
        })

      // a failing memory store must not lock everyone out either
      const local = (subject: RateLimitSubject) =>
        count(memory, subject).pipe(Effect.catchTag("StoreFailed", () => Effect.succeed(unlimited(subject))))
      const unlimited = (subject: RateLimitSubject): RateLimitState => {
        const { minute } = limitsOf(subject, config.current().security)
        return { limit: minute, remaining: minute, resetSeconds: 60 }
      }

      let warnedAt = 0
      const fallBack = (reason: string, subject: RateLimitSubject) =>
        Effect.suspend(() => {
          const now = Date.now()
          if (now - warnedAt < warnEveryMs) return local(subject)
          warnedAt = now
          return Effect.logWarning(`A rate limit count in Redis failed (${reason}): counted in this replica's memory instead`).pipe(
            Effect.andThen(local(subject))
          )
        })

      return RateLimits.of({
        consume: (subject) =>
          shared === undefined || bus?.status() !== "connected"
            ? local(subject)
            : count(shared, subject).pipe(
              Effect.timeoutOrElse({ duration: sharedTimeoutMs, orElse: () => Effect.fail(new StoreFailed({ reason: `no answer within ${sharedTimeoutMs} ms` })) }),
              Effect.catchTag("StoreFailed", (failed) => fallBack(failed.reason, subject))
            )
      })
    })
  )

  /**
   * The in-memory limiter store: limits per process, unless a SharedBus on Redis is in the context (then
   * counted in Redis, memory being the fallback). This RateLimiter is per process whatever the bus
   * (WebSocket floods use it).
   */
  static readonly layerMemory = RateLimits.layer.pipe(
    Layer.provideMerge(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)))
  )
}

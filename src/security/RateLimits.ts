/**
 * Requests per minute and per hour, per key (per client address when anonymous), from
 * security.maxRequestsPerMinute/PerHour or the key's own overrides. Built on effect's RateLimiter; its
 * store is a Layer (in memory here, Redis for several replicas).
 */
import { Context, Duration, Effect, Layer } from "effect"
import { RateLimiter } from "effect/persistence"
import { AppConfig } from "../config/AppConfig.ts"
import { RateLimited } from "./SecurityErrors.ts"
import { SecurityStats } from "./SecurityStats.ts"

export interface RateLimitState {
  readonly limit: number
  readonly remaining: number
  readonly resetSeconds: number
}

export class RateLimits extends Context.Service<RateLimits, {
  /** Counts one request; fails when a window is full. The state is that of the tighter window. */
  readonly consume: (subject: {
    readonly keyId?: string | undefined
    readonly ip: string
    readonly ratePerMinute?: number | undefined
    readonly ratePerHour?: number | undefined
  }) => Effect.Effect<RateLimitState, RateLimited>
}>()("mcp-router/security/RateLimits") {
  static readonly layer = Layer.effect(
    RateLimits,
    Effect.gen(function*() {
      const limiter = yield* RateLimiter.RateLimiter
      const config = yield* AppConfig
      const stats = yield* SecurityStats
      const windows = [
        { name: "minute" as const, duration: Duration.minutes(1) },
        { name: "hour" as const, duration: Duration.hours(1) }
      ]
      return RateLimits.of({
        consume: ({ keyId, ip, ratePerMinute, ratePerHour }) =>
          Effect.gen(function*() {
            const security = config.current().security
            const limits = {
              minute: ratePerMinute ?? security.maxRequestsPerMinute,
              hour: ratePerHour ?? security.maxRequestsPerHour
            }
            const subject = keyId ?? `ip:${ip}`
            let tightest: RateLimitState | undefined
            for (const window of windows) {
              const limit = limits[window.name]
              const result = yield* limiter.consume({
                key: `${window.name}:${subject}`,
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
                // a failing limiter store must not lock everyone out
                Effect.catchTag("RateLimiterError", () => Effect.succeed(undefined))
              )
              if (result === undefined) continue
              const state = { limit, remaining: result.remaining, resetSeconds: Math.ceil(Duration.toMillis(result.resetAfter) / 1000) }
              if (tightest === undefined || state.remaining < tightest.remaining) tightest = state
            }
            return tightest ?? { limit: limits.minute, remaining: limits.minute, resetSeconds: 60 }
          })
      })
    })
  )

  /** The in-memory limiter store: limits per process. The RateLimiter is shared (WebSocket floods use it). */
  static readonly layerMemory = RateLimits.layer.pipe(
    Layer.provideMerge(RateLimiter.layer.pipe(Layer.provide(RateLimiter.layerStoreMemory)))
  )
}

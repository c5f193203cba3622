/**
 * Tool calls (and the other API requests) per minute and per hour, per key (per client address when
 * anonymous). Limits: the key's own overrides, else security.adminRequestsPerMinute/PerHour for keys
 * holding `admin` or `*`, else security.maxRequestsPerMinute/PerHour. Every `tools/call` on every
 * transport is counted once, in `Router.call`; the HTTP edge counts the requests of the other routes.
 * Built on effect's RateLimiter; its store is a Layer (in memory here, Redis for several replicas).
 */
import { Context, Duration, Effect, Layer } from "effect"
import { RateLimiter } from "effect/persistence"
import { AppConfig } from "../config/AppConfig.ts"
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

export class RateLimits extends Context.Service<RateLimits, {
  /** Counts one tool call or request; fails when a window is full. The state is that of the tighter window. */
  readonly consume: (subject: RateLimitSubject) => Effect.Effect<RateLimitState, RateLimited>
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
        consume: (subject) =>
          Effect.gen(function*() {
            const limits = limitsOf(subject, config.current().security)
            const key = subject.keyId ?? `ip:${subject.ip}`
            let tightest: RateLimitState | undefined
            for (const window of windows) {
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

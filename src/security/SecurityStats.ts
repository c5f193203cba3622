/** Counts of refused requests by kind, in total and over the last minute and hour. */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { authFailures, blockedRequests, rateLimited } from "../observability/instruments.ts"

export type SecurityEvent = "authFailure" | "rateLimited" | "blocked" | "permissionDenied"
const events: ReadonlyArray<SecurityEvent> = ["authFailure", "rateLimited", "blocked", "permissionDenied"]

const metricOf = (event: SecurityEvent, reason: string | undefined): Effect.Effect<void> => {
  switch (event) {
    case "authFailure":
      return Metric.update(Metric.withAttributes(authFailures, { reason: reason ?? "unknown" }), 1)
    case "rateLimited":
      return Metric.update(rateLimited, 1)
    case "blocked":
      return Metric.update(Metric.withAttributes(blockedRequests, { reason: reason ?? "address" }), 1)
    case "permissionDenied":
      return Effect.void
  }
}

export interface EventCounts {
  readonly total: number
  readonly lastMinute: number
  readonly lastHour: number
}

export class SecurityStats extends Context.Service<SecurityStats, {
  readonly record: (event: SecurityEvent, reason?: string) => Effect.Effect<void>
  readonly snapshot: () => Readonly<Record<SecurityEvent, EventCounts>>
}>()("mcp-router/security/SecurityStats") {
  static readonly layer = Layer.sync(SecurityStats, () => {
    // one bucket per minute for the last hour, per event
    const totals = new Map<SecurityEvent, number>()
    const minutes = new Map<SecurityEvent, Map<number, number>>()
    const minuteNow = () => Math.floor(Date.now() / 60_000)
    return SecurityStats.of({
      record: (event, reason) => Effect.suspend(() => {
        totals.set(event, (totals.get(event) ?? 0) + 1)
        let buckets = minutes.get(event)
        if (buckets === undefined) minutes.set(event, buckets = new Map())
        const now = minuteNow()
        buckets.set(now, (buckets.get(now) ?? 0) + 1)
        for (const minute of buckets.keys()) if (minute <= now - 60) buckets.delete(minute)
        return metricOf(event, reason)
      }),
      snapshot: () => {
        const now = minuteNow()
        const counts = {} as Record<SecurityEvent, EventCounts>
        for (const event of events) {
          const buckets = minutes.get(event) ?? new Map<number, number>()
          let lastHour = 0
          for (const [minute, count] of buckets) if (minute > now - 60) lastHour += count
          counts[event] = { total: totals.get(event) ?? 0, lastMinute: buckets.get(now) ?? 0, lastHour }
        }
        return counts
      }
    })
  })
}

/**
 * Threshold alerts on each sample, with hysteresis: an alert fires once when its reading goes over the
 * threshold and resolves once when it is back at or under it. Each transition is logged, kept for
 * GET /api/alerts, published on Events as {type:"alert"} and, when monitoring.alerts.webhookUrl is set,
 * POSTed there by a forked fiber: the sampler and the requests never wait for the webhook.
 * With Redis (`redis.url`), the `redis` alert fires as soon as Redis cannot be reached (limits per
 * replica, events local) and resolves once it can again.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberSet from "effect/FiberSet"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as HttpClient from "effect/http/HttpClient"
import * as HttpClientRequest from "effect/http/HttpClientRequest"
import { AppConfig } from "../config/AppConfig.ts"
import type { AlertsConfig } from "../config/schema.ts"
import { SharedBus } from "../shared/SharedBus.ts"
import { serverName, version } from "../version.ts"
import { Events } from "./Events.ts"
import type { Sample } from "./readings.ts"

export type AlertRule = "memory" | "error_rate" | "cpu" | "p95_latency" | "redis"

export interface Alert {
  readonly id: string
  readonly rule: AlertRule
  readonly state: "firing" | "resolved"
  readonly message: string
  /** The reading at the latest transition, and the threshold it was compared with. */
  readonly value: number
  readonly threshold: number
  readonly firedAt: string
  readonly resolvedAt?: string
}

interface Rule {
  readonly rule: AlertRule
  readonly reading: (sample: Sample) => number
  readonly threshold: (settings: typeof AlertsConfig.Type) => number
  readonly describe: (value: number, threshold: number) => string
}

const rules: ReadonlyArray<Rule> = [
  { rule: "memory", reading: (s) => s.memory.percent, threshold: (a) => a.memoryPercent, describe: (v, t) => `memory at ${v}% of the limit (threshold ${t}%)` },
  { rule: "error_rate", reading: (s) => s.errorRatePercent, threshold: (a) => a.errorRatePercent, describe: (v, t) => `tool-call error rate at ${v}% (threshold ${t}%)` },
  { rule: "cpu", reading: (s) => s.cpuPercent, threshold: (a) => a.cpuPercent, describe: (v, t) => `CPU at ${v}% (threshold ${t}%)` },
  { rule: "p95_latency", reading: (s) => s.p95Ms, threshold: (a) => a.p95Ms, describe: (v, t) => `p95 tool-call duration at ${v} ms (threshold ${t} ms)` }
]

/** Alerts kept for GET /api/alerts, active or resolved. */
const recentCapacity = 100

export class Alerts extends Context.Service<Alerts, {
  /** Compares a sample with the thresholds in force now; the sampler calls it, tests force readings with it. */
  readonly evaluate: (sample: Sample) => Effect.Effect<void>
  /** The alerts firing now, and the last 100 alerts (in their latest state), newest first. */
  readonly list: Effect.Effect<{ readonly active: ReadonlyArray<Alert>; readonly recent: ReadonlyArray<Alert> }>
}>()("mcp-router/observability/Alerts") {
  static readonly layer = Layer.effect(
    Alerts,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const events = yield* Events
      const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
      // deliveries in flight; interrupted when the router stops
      const deliveries = yield* FiberSet.make()
      const active = new Map<AlertRule, Alert>()
      let recent: Array<Alert> = []
      let sequence = 0

      const deliver = (alert: Alert) => {
        const { webhookUrl, webhookTimeoutMs, webhookRetries } = config.current().monitoring.alerts
        if (webhookUrl === undefined) return Effect.void
        const request = HttpClientRequest.post(webhookUrl).pipe(
          HttpClientRequest.bodyJsonUnsafe({ event: `alert.${alert.state}`, alert, router: { name: serverName, version } })
        )
        return client.execute(request).pipe(
          Effect.timeout(webhookTimeoutMs),
          Effect.retry({ schedule: Schedule.exponential("500 millis"), times: webhookRetries }),
          Effect.catch((error) => Effect.logWarning("alert webhook failed", { rule: alert.rule, state: alert.state, error: String(error) })),
          FiberSet.run(deliveries),
          Effect.asVoid
        )
      }

      const transition = (alert: Alert) =>
        Effect.gen(function*() {
          if (alert.state === "firing") active.set(alert.rule, alert)
          else active.delete(alert.rule)
          recent = [alert, ...recent.filter((a) => a.id !== alert.id)].slice(0, recentCapacity)
          yield* alert.state === "firing"
            ? Effect.logWarning(`alert firing: ${alert.message}`, { alert: alert.id, rule: alert.rule })
            : Effect.logInfo(`alert resolved: ${alert.message}`, { alert: alert.id, rule: alert.rule })
          events.publish({ type: "alert", alert })
          yield* deliver(alert)
        })

      const evaluate = (sample: Sample) =>
        Effect.gen(function*() {
          const settings = config.current().monitoring.alerts
          const now = new Date(yield* Clock.currentTimeMillis).toISOString()
          for (const { rule, reading, threshold, describe } of rules) {
            const value = reading(sample)
            const limit = threshold(settings)
            const firing = active.get(rule)
            if (firing === undefined && value > limit) {
              sequence += 1
              yield* transition({ id: `alert_${sequence}`, rule, state: "firing", message: describe(value, limit), value, threshold: limit, firedAt: now })
            } else if (firing !== undefined && value <= limit) {
              yield* transition({ ...firing, state: "resolved", message: describe(value, limit), value, threshold: limit, resolvedAt: now })
            }
          }
        })

      // the shared store: 1 while Redis cannot be reached, against a threshold of 0
      const bus = Option.getOrUndefined(yield* Effect.serviceOption(SharedBus))
      if (bus?.enabled === true) {
        const runFork = Effect.runForkWith(yield* Effect.context<never>())
        const redisChanged = Effect.gen(function*() {
          const now = new Date(yield* Clock.currentTimeMillis).toISOString()
          const lost = bus.status() === "disconnected"
          const firing = active.get("redis")
          if (lost && firing === undefined) {
            sequence += 1
            const message = `Redis at ${bus.target} cannot be reached (${bus.problem() ?? "connection lost"}): rate limits are counted per replica and events stay on this replica`
            yield* transition({ id: `alert_${sequence}`, rule: "redis", state: "firing", message, value: 1, threshold: 0, firedAt: now })
          } else if (!lost && firing !== undefined && bus.status() === "connected") {
            yield* transition({ ...firing, state: "resolved", message: `Redis at ${bus.target} is reachable again: rate limits and events are shared`, value: 0, resolvedAt: now })
          }
        })
        yield* bus.onStatus(() => void runFork(redisChanged))
        yield* redisChanged
      }

      return Alerts.of({
        evaluate,
        list: Effect.sync(() => ({ active: [...active.values()], recent }))
      })
    })
  ).pipe(Layer.provide(FetchHttpClient.layer))
}

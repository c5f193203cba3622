/**
 * Every monitoring.healthCheckInterval, a sample of the router's health taken from the same metrics that
 * /metrics, /metrics/prometheus and /api/stats show: memory, CPU, event-loop delay, and the tool calls,
 * errors and p95 of the interval. Samples are kept in bounded rings (see sampleHistory.ts), published on
 * Events as {type:"metrics"} and evaluated by Alerts.
 */
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as os from "node:os"
import { AppConfig } from "../config/AppConfig.ts"
import { Alerts } from "./Alerts.ts"
import { Events } from "./Events.ts"
import { Metrics } from "./Metrics.ts"
import { between, memoryPercent, readMetrics, type Sample } from "./readings.ts"
import { makeSampleHistory, type MinuteAggregate } from "./sampleHistory.ts"
import { ToolStats } from "./ToolStats.ts"

export interface History {
  /** "sample": every sample of the window; "minute": one aggregate per minute, for windows longer than the sample ring keeps. */
  readonly resolution: "sample" | "minute"
  readonly points: ReadonlyArray<Sample | MinuteAggregate>
}

/** The memory the process may use: the container's limit (cgroup) when there is one, else the machine's. */
const memoryLimitBytes = () => Math.min(os.totalmem(), process.constrainedMemory() || Infinity)

export class Sampler extends Context.Service<Sampler, {
  /** Takes a sample now: kept, published and evaluated like the periodic ones. */
  readonly sampleNow: Effect.Effect<Sample>
  /** The series of the last `windowMs`. */
  readonly history: (windowMs: number) => Effect.Effect<History>
}>()("mcp-router/observability/Sampler") {
  static readonly layer = Layer.effect(
    Sampler,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const metrics = yield* Metrics
      const stats = yield* ToolStats
      const alerts = yield* Alerts
      const events = yield* Events
      const cores = os.availableParallelism()
      const limitBytes = memoryLimitBytes()
      const read = Effect.gen(function*() {
        yield* metrics.sampleProcess
        return readMetrics(yield* Clock.currentTimeMillis, yield* Metric.snapshot, yield* stats.snapshot)
      })
      const history = makeSampleHistory((yield* read).reading, cores)

      const sampleNow = Effect.gen(function*() {
        const { reading, gauges } = yield* read
        const { eventLoopDelayMs, toolCallsInFlight, websocketConnections, rssBytes, heapUsedBytes } = gauges
        const sample: Sample = {
          at: new Date(reading.atMs).toISOString(),
          ...between(history.previous(), reading, cores),
          memory: { rssBytes, heapUsedBytes, limitBytes, percent: memoryPercent(rssBytes, limitBytes) },
          eventLoopDelayMs,
          toolCallsInFlight,
          websocketConnections
        }
        const { historyRetentionMinutes, aggregateRetentionHours, healthCheckInterval } = config.current().monitoring
        history.add(sample, reading, {
          samples: Math.ceil((historyRetentionMinutes * 60_000) / healthCheckInterval),
          minutes: aggregateRetentionHours * 60
        })
        events.publish({ type: "metrics", sample })
        yield* alerts.evaluate(sample)
        return sample
      })

      // settings are read at every turn, so runtime changes of the interval or of `enabled` apply from the next one
      yield* Effect.suspend(() => Effect.sleep(config.current().monitoring.healthCheckInterval)).pipe(
        Effect.andThen(Effect.suspend(() => (config.current().monitoring.enabled ? sampleNow : Effect.void))),
        Effect.catchCause((cause) => Effect.logError("sampling failed", cause)),
        Effect.forever,
        Effect.forkScoped
      )

      return Sampler.of({
        sampleNow,
        history: (windowMs) =>
          Effect.map(Clock.currentTimeMillis, (now): History =>
            windowMs <= config.current().monitoring.historyRetentionMinutes * 60_000
              ? { resolution: "sample", points: history.samples(now - windowMs) }
              : { resolution: "minute", points: history.minutes(now - windowMs) })
      })
    })
  )
}

/**
 * Effect's metrics exported through @effect/opentelemetry into an OpenTelemetry MeterProvider whose
 * reader is the Prometheus exporter (served on the router's own port, never a second server), and the
 * same metrics as JSON. Process gauges are read at each scrape, so they are never stale.
 */
import * as OtelMetrics from "@effect/opentelemetry/OtelMetrics"
import * as Resource from "@effect/opentelemetry/Resource"
import { PrometheusExporter, PrometheusSerializer } from "@opentelemetry/exporter-prometheus"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { serverName, version } from "../version.ts"
import { buildInfo, cpuSeconds, eventLoopDelay, heapUsed, residentMemory } from "./instruments.ts"
import { histogramQuantile } from "./ToolStats.ts"

export interface MetricsJson {
  readonly counters: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown>; readonly value: number }>
  readonly gauges: ReadonlyArray<{ readonly name: string; readonly attributes: Record<string, unknown>; readonly value: number }>
  readonly histograms: ReadonlyArray<{
    readonly name: string
    readonly attributes: Record<string, unknown>
    readonly count: number
    readonly sum: number
    readonly min: number
    readonly max: number
    readonly p50: number
    readonly p95: number
    readonly p99: number
  }>
}

export class Metrics extends Context.Service<Metrics, {
  /** The Prometheus exposition text of every metric. */
  readonly prometheusText: Effect.Effect<string>
  readonly json: Effect.Effect<MetricsJson>
  /** Reads memory, CPU and event-loop delay into their gauges. */
  readonly sampleProcess: Effect.Effect<void>
}>()("mcp-router/observability/Metrics") {
  static readonly layer = Layer.effect(
    Metrics,
    Effect.gen(function*() {
      const exporter = yield* Effect.sync(() => new PrometheusExporter({ preventServerStart: true }))
      const serializer = new PrometheusSerializer()
      const loopDelay = monitorEventLoopDelay({ resolution: 20 })
      loopDelay.enable()
      yield* Effect.addFinalizer(() => Effect.sync(() => loopDelay.disable()))
      yield* Metric.update(Metric.withAttributes(buildInfo, { version, node: process.version }), 1)

      const sampleProcess = Effect.suspend(() => {
        const memory = process.memoryUsage()
        const cpu = process.cpuUsage()
        const delay = loopDelay.percentile(99) / 1e9
        loopDelay.reset()
        return Effect.all([
          Metric.update(residentMemory, memory.rss),
          Metric.update(heapUsed, memory.heapUsed),
          Metric.update(cpuSeconds, (cpu.user + cpu.system) / 1e6),
          Metric.update(eventLoopDelay, Number.isFinite(delay) ? delay : 0)
        ], { discard: true })
      })

      // the exporter becomes the MeterProvider's reader for the life of this layer
      yield* Layer.build(
        OtelMetrics.layer(() => exporter).pipe(Layer.provide(Resource.layer({ serviceName: serverName, serviceVersion: version })))
      )

      return Metrics.of({
        sampleProcess,
        prometheusText: sampleProcess.pipe(
          Effect.andThen(Effect.promise(() => exporter.collect())),
          Effect.map(({ resourceMetrics }) => serializer.serialize(resourceMetrics))
        ),
        json: sampleProcess.pipe(
          Effect.andThen(Metric.snapshot),
          Effect.map((snapshot) => {
            const json = { counters: [], gauges: [], histograms: [] } as { -readonly [K in keyof MetricsJson]: Array<MetricsJson[K][number]> }
            for (const metric of snapshot) {
              const attributes = { ...metric.attributes }
              if (metric.type === "Counter") json.counters.push({ name: metric.id, attributes, value: Number(metric.state.count) })
              else if (metric.type === "Gauge") json.gauges.push({ name: metric.id, attributes, value: Number(metric.state.value) })
              else if (metric.type === "Histogram") {
                const { buckets, count, sum, min, max } = metric.state
                json.histograms.push({
                  name: metric.id,
                  attributes,
                  count,
                  sum,
                  min: count === 0 ? 0 : min,
                  max: count === 0 ? 0 : max,
                  p50: histogramQuantile(buckets, count, max, 0.5),
                  p95: histogramQuantile(buckets, count, max, 0.95),
                  p99: histogramQuantile(buckets, count, max, 0.99)
                })
              }
            }
            return json
          })
        )
      })
    })
  )
}

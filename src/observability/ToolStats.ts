/**
 * Calls, errors and latency per tool, read from the same metrics Prometheus scrapes: /api/stats,
 * mcp/stats and /health report these numbers, so every view agrees.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { toolCalls, toolDuration, websocketConnections } from "./instruments.ts"

export interface ToolNumbers {
  readonly calls: number
  readonly errors: number
  readonly denied: number
  readonly invalid: number
  readonly averageMs: number
  readonly p50Ms: number
  readonly p95Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

export interface StatsSnapshot {
  readonly startedAt: string
  readonly uptimeSeconds: number
  /** calls counts every outcome; errors counts every outcome but ok. */
  readonly totals: { readonly calls: number; readonly errors: number }
  readonly tools: Readonly<Record<string, ToolNumbers>>
  /** Open client connections: WebSocket connections (HTTP requests are not connections a client holds). */
  readonly connections: { readonly websocket: number }
}

/** A quantile of a histogram, interpolated within its bucket (what Prometheus's histogram_quantile does). */
export const histogramQuantile = (buckets: ReadonlyArray<readonly [number, number]>, count: number, max: number, q: number) => {
  if (count === 0) return 0
  const rank = q * count
  let lower = 0
  let below = 0
  for (const [bound, cumulative] of buckets) {
    if (cumulative >= rank) {
      const inBucket = cumulative - below
      const upper = Math.min(bound, max)
      return inBucket === 0 ? upper : lower + (upper - lower) * ((rank - below) / inBucket)
    }
    lower = bound
    below = cumulative
  }
  return max
}

const ms = (seconds: number) => Math.round(seconds * 1000 * 100) / 100

export class ToolStats extends Context.Service<ToolStats, {
  readonly snapshot: Effect.Effect<StatsSnapshot>
}>()("mcp-router/observability/ToolStats") {
  static readonly layer = Layer.sync(ToolStats, () => {
    const started = Date.now()
    return ToolStats.of({
      snapshot: Effect.map(Metric.snapshot, (metrics) => {
        const tools: Record<string, { calls: number; errors: number; denied: number; invalid: number } & Partial<ToolNumbers>> = {}
        const entry = (tool: string) => (tools[tool] ??= { calls: 0, errors: 0, denied: 0, invalid: 0 })
        let websocket = 0
        for (const metric of metrics) {
          if (metric.id === websocketConnections.id && metric.type === "Gauge") websocket += Number(metric.state.value)
          const tool = metric.attributes?.["tool"]
          if (typeof tool !== "string") continue
          if (metric.id === toolCalls.id && metric.type === "Counter") {
            const count = Number(metric.state.count)
            const numbers = entry(tool)
            numbers.calls += count
            const outcome = metric.attributes?.["outcome"]
            if (outcome !== "ok") numbers.errors += count
            if (outcome === "denied") numbers.denied += count
            if (outcome === "invalid") numbers.invalid += count
          } else if (metric.id === toolDuration.id && metric.type === "Histogram") {
            const { buckets, count, max, sum } = metric.state
            Object.assign(entry(tool), {
              averageMs: count === 0 ? 0 : ms(sum / count),
              p50Ms: ms(histogramQuantile(buckets, count, max, 0.5)),
              p95Ms: ms(histogramQuantile(buckets, count, max, 0.95)),
              p99Ms: ms(histogramQuantile(buckets, count, max, 0.99)),
              maxMs: count === 0 ? 0 : ms(max)
            })
          }
        }
        const complete: Record<string, ToolNumbers> = {}
        let calls = 0
        let errors = 0
        for (const [name, n] of Object.entries(tools)) {
          calls += n.calls
          errors += n.errors
          complete[name] = { averageMs: 0, p50Ms: 0, p95Ms: 0, p99Ms: 0, maxMs: 0, ...n }
        }
        return {
          startedAt: new Date(started).toISOString(),
          uptimeSeconds: Math.floor((Date.now() - started) / 1000),
          totals: { calls, errors },
          tools: complete,
          connections: { websocket }
        }
      })
    })
  })
}

/**
 * What a sample is made of. A Reading holds the cumulative counters at one instant, read from the same
 * metrics Prometheus scrapes; the numbers of an interval (calls, errors, p95) are the difference of two
 * readings, so a sample and a per-minute aggregate are computed the same way.
 */
import type * as Metric from "effect/Metric"
import { cpuSeconds, eventLoopDelay, heapUsed, httpRequests, residentMemory, toolDuration, toolsInFlight } from "./instruments.ts"
import { histogramQuantile, type StatsSnapshot } from "./ToolStats.ts"

type Buckets = ReadonlyArray<readonly [number, number]>

export interface Reading {
  readonly atMs: number
  readonly cpuSeconds: number
  readonly toolCalls: number
  readonly toolErrors: number
  readonly httpRequests: number
  /** Tool-call durations of every tool, merged: cumulative buckets (seconds), count and the largest value. */
  readonly durations: { readonly buckets: Buckets; readonly count: number; readonly max: number }
}

/** The process and connection gauges at one instant. */
export interface Gauges {
  readonly rssBytes: number
  readonly heapUsedBytes: number
  readonly eventLoopDelayMs: number
  readonly toolCallsInFlight: number
  readonly websocketConnections: number
}

export interface Sample {
  readonly at: string
  /** ms since the previous sample (60000 or less for a minute aggregate) */
  readonly intervalMs: number
  readonly memory: { readonly rssBytes: number; readonly heapUsedBytes: number; readonly limitBytes: number; readonly percent: number }
  readonly cpuPercent: number
  readonly eventLoopDelayMs: number
  /** Tool calls that ended in the interval; errors are every outcome but ok, as in /api/stats. */
  readonly toolCalls: number
  readonly toolErrors: number
  readonly errorRatePercent: number
  /** 95th percentile of the tool calls of the interval, in ms. */
  readonly p95Ms: number
  readonly httpRequests: number
  readonly toolCallsInFlight: number
  readonly websocketConnections: number
}

const round2 = (n: number) => Math.round(n * 100) / 100

const addBuckets = (a: Buckets, b: Buckets): Buckets =>
  a.length === 0 ? b : a.map(([bound, count], i) => [bound, count + (b[i]?.[1] ?? 0)] as const)

/** Reads the counters and gauges out of a metrics snapshot (taken right after Metrics.sampleProcess). */
export const readMetrics = (
  atMs: number,
  metrics: ReadonlyArray<Metric.Metric.Snapshot>,
  stats: StatsSnapshot
): { readonly reading: Reading; readonly gauges: Gauges } => {
  const gaugeSum = (id: string) =>
    metrics.reduce((sum, m) => (m.id === id && m.type === "Gauge" ? sum + Number(m.state.value) : sum), 0)
  let buckets: Buckets = []
  let count = 0
  let max = 0
  let requests = 0
  for (const metric of metrics) {
    if (metric.id === toolDuration.id && metric.type === "Histogram") {
      buckets = addBuckets(buckets, metric.state.buckets)
      count += metric.state.count
      if (metric.state.count > 0) max = Math.max(max, metric.state.max)
    } else if (metric.id === httpRequests.id && metric.type === "Counter") {
      requests += Number(metric.state.count)
    }
  }
  return {
    reading: {
      atMs,
      cpuSeconds: gaugeSum(cpuSeconds.id),
      toolCalls: stats.totals.calls,
      toolErrors: stats.totals.errors,
      httpRequests: requests,
      durations: { buckets, count, max }
    },
    gauges: {
      rssBytes: gaugeSum(residentMemory.id),
      heapUsedBytes: gaugeSum(heapUsed.id),
      eventLoopDelayMs: round2(gaugeSum(eventLoopDelay.id) * 1000),
      toolCallsInFlight: gaugeSum(toolsInFlight.id),
      websocketConnections: stats.connections.websocket
    }
  }
}

/** The tool and HTTP numbers of the interval between two readings, and its CPU use over all cores. */
export const between = (previous: Reading, next: Reading, cores: number) => {
  const toolCalls = next.toolCalls - previous.toolCalls
  const toolErrors = next.toolErrors - previous.toolErrors
  const seconds = (next.atMs - previous.atMs) / 1000
  const buckets = next.durations.buckets.map(([bound, n], i) => [bound, n - (previous.durations.buckets[i]?.[1] ?? 0)] as const)
  const calls = next.durations.count - previous.durations.count
  return {
    intervalMs: next.atMs - previous.atMs,
    cpuPercent: seconds <= 0 ? 0 : round2(((next.cpuSeconds - previous.cpuSeconds) / seconds / cores) * 100),
    toolCalls,
    toolErrors,
    errorRatePercent: toolCalls === 0 ? 0 : round2((toolErrors / toolCalls) * 100),
    p95Ms: round2(histogramQuantile(buckets, calls, next.durations.max, 0.95) * 1000),
    httpRequests: next.httpRequests - previous.httpRequests
  }
}

export const memoryPercent = (rssBytes: number, limitBytes: number) => round2((rssBytes / limitBytes) * 100)

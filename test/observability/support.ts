/** Shared pieces of the observability tests: the monitoring services without a server, and forced readings. */
import { Layer, Metric } from "effect"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { Alerts } from "../../src/observability/Alerts.ts"
import { Events } from "../../src/observability/Events.ts"
import { Metrics } from "../../src/observability/Metrics.ts"
import type { Sample } from "../../src/observability/readings.ts"
import { Sampler } from "../../src/observability/Sampler.ts"
import { ToolStats } from "../../src/observability/ToolStats.ts"

/** Sampler and Alerts on a configuration in file form, with their own metrics registry and event stream. */
export const monitoringLayer = (input: Record<string, any> = {}) =>
  Sampler.layer.pipe(
    Layer.provideMerge(Alerts.layer),
    Layer.provideMerge(Layer.mergeAll(Metrics.layer, ToolStats.layer, Events.layer)),
    Layer.provideMerge(AppConfig.layerFromInput({ ...input, logging: { enableConsole: false, ...input.logging } })),
    // the test's own metric updates land in the same registry
    Layer.provideMerge(Layer.sync(Metric.MetricRegistry, () => new Map()))
  )

/** A sample under every default threshold, with the given readings forced. */
export const forcedSample = (readings: { memoryPercent?: number; cpuPercent?: number; errorRatePercent?: number; p95Ms?: number } = {}): Sample => ({
  at: new Date(0).toISOString(),
  intervalMs: 15_000,
  memory: { rssBytes: 100, heapUsedBytes: 50, limitBytes: 1000, percent: readings.memoryPercent ?? 10 },
  cpuPercent: readings.cpuPercent ?? 5,
  eventLoopDelayMs: 1,
  toolCalls: 10,
  toolErrors: 0,
  errorRatePercent: readings.errorRatePercent ?? 0,
  p95Ms: readings.p95Ms ?? 20,
  httpRequests: 10,
  toolCallsInFlight: 0,
  websocketConnections: 0
})

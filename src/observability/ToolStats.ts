/** Calls, errors and durations per tool since start; what `mcp/stats` and `/health` report. */
import { Context, Layer } from "effect"

export interface ToolCounters {
  calls: number
  errors: number
  totalDurationMs: number
  maxDurationMs: number
}

export interface StatsSnapshot {
  readonly startedAt: string
  readonly uptimeSeconds: number
  readonly totals: { readonly calls: number; readonly errors: number }
  readonly tools: Readonly<Record<string, ToolCounters & { readonly averageDurationMs: number }>>
}

export class ToolStats extends Context.Service<ToolStats, {
  /** Synchronous: it sits on every call's path. */
  readonly record: (tool: string, durationMs: number, failed: boolean) => void
  readonly snapshot: () => StatsSnapshot
}>()("mcp-router/observability/ToolStats") {
  static readonly layer = Layer.sync(ToolStats, () => {
    const started = Date.now()
    const counters = new Map<string, ToolCounters>()
    return ToolStats.of({
      record: (tool, durationMs, failed) => {
        let entry = counters.get(tool)
        if (entry === undefined) counters.set(tool, entry = { calls: 0, errors: 0, totalDurationMs: 0, maxDurationMs: 0 })
        entry.calls++
        if (failed) entry.errors++
        entry.totalDurationMs += durationMs
        entry.maxDurationMs = Math.max(entry.maxDurationMs, durationMs)
      },
      snapshot: () => {
        const tools: Record<string, ToolCounters & { averageDurationMs: number }> = {}
        let calls = 0
        let errors = 0
        for (const [name, c] of counters) {
          calls += c.calls
          errors += c.errors
          tools[name] = { ...c, averageDurationMs: c.calls === 0 ? 0 : Math.round((c.totalDurationMs / c.calls) * 100) / 100 }
        }
        return {
          startedAt: new Date(started).toISOString(),
          uptimeSeconds: Math.floor((Date.now() - started) / 1000),
          totals: { calls, errors },
          tools
        }
      }
    })
  })
}

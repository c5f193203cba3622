/**
 * The sampler with the TestClock: a sample every interval from the metrics, a bounded ring, per-minute
 * aggregates in a second bounded ring, and the window that picks one or the other.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, PubSub } from "effect"
import { TestClock } from "effect/testing"
import { expect, it as vitestIt } from "vitest"
import { Alerts } from "../../src/observability/Alerts.ts"
import { Events } from "../../src/observability/Events.ts"
import { recordToolCall } from "../../src/observability/instruments.ts"
import { Sampler } from "../../src/observability/Sampler.ts"
import { call, cleanupAfterEach, start } from "../security/support.ts"
import { monitoringLayer } from "./support.ts"

// one sample every 15 s, kept for one minute (4 samples); aggregates kept for one hour (60)
const everyFifteenSeconds = monitoringLayer({
  monitoring: { healthCheckInterval: 15_000, historyRetentionMinutes: 1, aggregateRetentionHours: 1 }
})

const calls = (tool: string, outcome: "ok" | "error", seconds: number, count: number) =>
  Effect.forEach(Array.from({ length: count }), () => recordToolCall(tool, outcome, seconds), { discard: true })

describe("the sampler", () => {
  it.effect("samples every interval, from the metrics, counting only the interval's calls", () =>
    Effect.gen(function*() {
      const sampler = yield* Sampler
      const subscription = yield* (yield* Events).subscribe
      yield* calls("read_file", "ok", 0.01, 3)
      yield* calls("write_file", "error", 0.02, 1)
      yield* TestClock.adjust("15 seconds")
      yield* TestClock.adjust("15 seconds")

      const { resolution, points } = yield* sampler.history(60_000)
      assert.strictEqual(resolution, "sample")
      assert.deepStrictEqual(points.map((p) => [p.at, p.intervalMs, p.toolCalls, p.toolErrors, p.errorRatePercent]), [
        [new Date(15_000).toISOString(), 15_000, 4, 1, 25],
        [new Date(30_000).toISOString(), 15_000, 0, 0, 0]
      ])
      assert.isAbove(points[0]!.memory.rssBytes, 0)
      assert.isAbove(points[0]!.memory.limitBytes, points[0]!.memory.rssBytes)
      const published = (yield* PubSub.takeUpTo(subscription, 100)).filter((e) => e.type === "metrics")
      assert.strictEqual(published.length, 2)
    }).pipe(Effect.provide(everyFifteenSeconds)))

  it.effect("computes the p95 of each interval from histogram differences", () =>
    Effect.gen(function*() {
      const sampler = yield* Sampler
      yield* calls("fetch_url", "ok", 7, 10)
      yield* TestClock.adjust("15 seconds")
      yield* calls("fetch_url", "ok", 0.004, 10)
      yield* TestClock.adjust("15 seconds")
      const [slow, fast] = (yield* sampler.history(60_000)).points
      assert.isAbove(slow!.p95Ms, 5000)
      assert.isAtMost(fast!.p95Ms, 5, "the slow calls of the interval before do not count")
      // the alert fired on the slow interval and resolved on the fast one
      const { recent } = yield* (yield* Alerts).list
      assert.deepStrictEqual(recent.filter((a) => a.rule === "p95_latency").map((a) => a.state), ["resolved"])
    }).pipe(Effect.provide(everyFifteenSeconds)))

  it.effect("keeps retention / interval samples and rolls minutes into bounded aggregates", () =>
    Effect.gen(function*() {
      const sampler = yield* Sampler
      // minute 0: samples at 15, 30 and 45 s, with 6 calls (2 errors)
      yield* calls("read_file", "ok", 0.01, 4)
      yield* TestClock.adjust("15 seconds")
      yield* calls("read_file", "error", 0.01, 2)
      yield* TestClock.adjust("45 seconds")
      // samples at 30, 45, 60 and 75 s: the ring holds 4
      yield* TestClock.adjust("15 seconds")
      const raw = yield* sampler.history(60_000)
      assert.deepStrictEqual(raw.points.map((p) => Date.parse(p.at) / 1000), [30, 45, 60, 75])

      // past the sample ring's retention, the window is served from the minute aggregates
      const minutes = yield* sampler.history(2 * 3_600_000)
      assert.strictEqual(minutes.resolution, "minute")
      assert.strictEqual(minutes.points.length, 1)
      const [first] = minutes.points as ReadonlyArray<any>
      assert.deepStrictEqual([first.at, first.samples, first.toolCalls, first.toolErrors, first.errorRatePercent], [new Date(0).toISOString(), 3, 6, 2, 33.33])

      // 70 more minutes: the aggregate ring keeps the last 60
      for (let i = 0; i < 70 * 4; i++) yield* TestClock.adjust("15 seconds")
      const kept = (yield* sampler.history(2 * 3_600_000)).points
      assert.strictEqual(kept.length, 60)
      assert.strictEqual(Date.parse(kept[59]!.at), 70 * 60_000, "the newest is the last complete minute")
      assert.strictEqual((yield* sampler.history(60_000)).points.length, 4)
    }).pipe(Effect.provide(everyFifteenSeconds)))

  it.effect("takes no sample while monitoring is disabled", () =>
    Effect.gen(function*() {
      yield* TestClock.adjust("5 minutes")
      assert.strictEqual((yield* (yield* Sampler).history(3_600_000)).points.length, 0)
    }).pipe(Effect.provide(monitoringLayer({ monitoring: { enabled: false } }))))
})

describe("GET /metrics/history", () => {
  cleanupAfterEach()

  vitestIt("serves the window's samples, and 400 for a window it cannot read", async () => {
    const server = await start({ monitoring: { healthCheckInterval: 100 } }, false)
    await call(`${server.url}/api/mcp/jsonrpc`, { body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_directory", arguments: {} } } })
    let history: any
    for (let i = 0; i < 100; i++) {
      history = (await call(`${server.url}/metrics/history?window=15m`)).json
      if (history.points.some((p: any) => p.toolCalls === 1)) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    expect(history).toMatchObject({ window: "15m", resolution: "sample" })
    expect(history.points.reduce((sum: number, p: any) => sum + p.toolCalls, 0)).toBe(1)
    expect((await call(`${server.url}/metrics/history`)).json.window).toBe("15m")
    expect((await call(`${server.url}/metrics/history?window=24h`)).json.resolution).toBe("minute")
    for (const bad of ["15", "m", "0m", "15x", "-1h", "1.5h", "15m&window=1h"]) {
      const reply = await call(`${server.url}/metrics/history?window=${bad}`)
      expect(reply.status, bad).toBe(400)
      expect(reply.json.error.code).toBe("invalid_query")
    }
  })
})

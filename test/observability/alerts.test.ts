/**
 * Alerts on forced readings with the TestClock: each transition happens once (hysteresis), is kept,
 * published on Events and POSTed to the webhook, which retries with backoff and never holds anyone up.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, PubSub } from "effect"
import { TestClock } from "effect/testing"
import * as net from "node:net"
import { afterEach } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { type Alert, Alerts } from "../../src/observability/Alerts.ts"
import { Events, type RouterEvent } from "../../src/observability/Events.ts"
import { type LocalServer, startLocalServer } from "../tools/web/support.ts"
import { forcedSample, monitoringLayer } from "./support.ts"

// the sampler stays off: only the forced readings below are evaluated
const withAlerts = (alerts: Record<string, unknown> = {}) => monitoringLayer({ monitoring: { enabled: false, alerts } })

const webhooks: Array<LocalServer> = []
afterEach(async () => {
  await Promise.all(webhooks.splice(0).map((server) => server.close()))
})
const webhook = (status: (attempt: number) => number | undefined) =>
  Effect.promise(async () => {
    let attempts = 0
    const server = await startLocalServer((_, response) => {
      attempts += 1
      const code = status(attempts)
      // undefined: never answer, like a webhook that hangs
      if (code !== undefined) response.writeHead(code).end()
    })
    webhooks.push(server)
    return server
  })

/** Waits in real time (the webhook is a real server) for `check`; between tries, `tick` may move the TestClock. */
const eventually = (check: () => boolean, tick: Effect.Effect<void> = Effect.void) =>
  Effect.gen(function*() {
    for (let i = 0; i < 250 && !check(); i++) {
      yield* tick
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 20)))
    }
    assert.isTrue(check(), "condition not reached within 5 s")
  })

const alertEvents = (events: ReadonlyArray<RouterEvent>) =>
  events.flatMap((event) => (event.type === "alert" ? [event.alert as Alert] : []))

describe("alerts", () => {
  it.effect("fire once while over, resolve once when back under, and are kept and published", () =>
    Effect.gen(function*() {
      const alerts = yield* Alerts
      const subscription = yield* (yield* Events).subscribe

      yield* alerts.evaluate(forcedSample({ memoryPercent: 95 }))
      yield* TestClock.adjust("15 seconds")
      yield* alerts.evaluate(forcedSample({ memoryPercent: 97 }))
      let list = yield* alerts.list
      assert.deepStrictEqual(list.active.map((a) => [a.rule, a.state, a.value, a.threshold]), [["memory", "firing", 95, 90]])
      assert.strictEqual(list.recent.length, 1)

      yield* alerts.evaluate(forcedSample({ memoryPercent: 50 }))
      yield* alerts.evaluate(forcedSample({ memoryPercent: 40 }))
      list = yield* alerts.list
      assert.deepStrictEqual(list.active, [])
      assert.deepStrictEqual(list.recent.map((a) => [a.id, a.rule, a.state]), [["alert_1", "memory", "resolved"]])
      assert.strictEqual(list.recent[0]!.firedAt, new Date(0).toISOString())
      assert.strictEqual(list.recent[0]!.resolvedAt, new Date(15_000).toISOString())

      const published = alertEvents(yield* PubSub.takeUpTo(subscription, 100))
      assert.deepStrictEqual(published.map((a) => [a.id, a.state]), [["alert_1", "firing"], ["alert_1", "resolved"]])

      // over again: a new alert
      yield* alerts.evaluate(forcedSample({ memoryPercent: 91 }))
      list = yield* alerts.list
      assert.deepStrictEqual(list.active.map((a) => a.id), ["alert_2"])
      assert.deepStrictEqual(list.recent.map((a) => [a.id, a.state]), [["alert_2", "firing"], ["alert_1", "resolved"]])
    }).pipe(Effect.provide(withAlerts())))

  it.effect("watch every default threshold: memory 90 %, error rate 10 %, CPU 80 %, p95 5 s", () =>
    Effect.gen(function*() {
      const alerts = yield* Alerts
      yield* alerts.evaluate(forcedSample({ memoryPercent: 90, errorRatePercent: 10, cpuPercent: 80, p95Ms: 5000 }))
      assert.deepStrictEqual((yield* alerts.list).active, [], "at the threshold is not over it")
      yield* alerts.evaluate(forcedSample({ memoryPercent: 90.5, errorRatePercent: 12, cpuPercent: 81, p95Ms: 5001 }))
      const active = (yield* alerts.list).active
      assert.deepStrictEqual(active.map((a) => a.rule).sort(), ["cpu", "error_rate", "memory", "p95_latency"])
      assert.include(active.find((a) => a.rule === "p95_latency")!.message, "5001 ms (threshold 5000 ms)")
    }).pipe(Effect.provide(withAlerts())))

  it.effect("read the thresholds at each evaluation, so runtime configuration changes apply", () =>
    Effect.gen(function*() {
      const alerts = yield* Alerts
      yield* alerts.evaluate(forcedSample({ cpuPercent: 60 }))
      assert.deepStrictEqual((yield* alerts.list).active, [])
      yield* (yield* AppConfig).update({ "monitoring.alerts.cpuPercent": 50 })
      yield* alerts.evaluate(forcedSample({ cpuPercent: 60 }))
      assert.deepStrictEqual((yield* alerts.list).active.map((a) => [a.rule, a.threshold]), [["cpu", 50]])
    }).pipe(Effect.provide(withAlerts())))

  it.effect("POST each transition to the webhook", () =>
    Effect.gen(function*() {
      const server = yield* webhook(() => 204)
      yield* Effect.gen(function*() {
        const alerts = yield* Alerts
        yield* alerts.evaluate(forcedSample({ errorRatePercent: 50 }))
        yield* alerts.evaluate(forcedSample({ errorRatePercent: 0 }))
        yield* eventually(() => server.requests.length === 2)
        const bodies = server.requests.map((r) => JSON.parse(r.body))
        // deliveries run concurrently: compare them in a stable order
        bodies.sort((a, b) => a.event.localeCompare(b.event))
        assert.deepStrictEqual(bodies.map((b) => [b.event, b.alert.rule, b.alert.state, b.router.name]), [
          ["alert.firing", "error_rate", "firing", "mcp-router-pro"],
          ["alert.resolved", "error_rate", "resolved", "mcp-router-pro"]
        ])
        assert.strictEqual(server.requests[0]!.method, "POST")
        assert.include(server.requests[0]!.headers["content-type"], "application/json")
      }).pipe(Effect.provide(withAlerts({ webhookUrl: server.origin })))
    }))

  it.effect("retry a failing webhook with exponential backoff", () =>
    Effect.gen(function*() {
      // two failures, then success: 3 attempts with the default 3 retries
      const server = yield* webhook((attempt) => (attempt <= 2 ? 500 : 200))
      yield* Effect.gen(function*() {
        yield* (yield* Alerts).evaluate(forcedSample({ memoryPercent: 99 }))
        yield* eventually(() => server.requests.length === 1)
        assert.strictEqual(server.requests.length, 1, "the retry waits for its backoff")
        yield* eventually(() => server.requests.length === 3, TestClock.adjust("250 millis"))
        yield* TestClock.adjust("1 minute")
        yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 100)))
        assert.strictEqual(server.requests.length, 3, "no attempt after the one that succeeded")
      }).pipe(Effect.provide(withAlerts({ webhookUrl: server.origin, webhookTimeoutMs: 600_000 })))
    }))

  it.effect("never wait for a webhook that hangs or refuses connections", () =>
    Effect.gen(function*() {
      const hanging = yield* webhook(() => undefined)
      yield* Effect.gen(function*() {
        const alerts = yield* Alerts
        yield* alerts.evaluate(forcedSample({ cpuPercent: 99 }))
        // evaluate has returned while the webhook still holds the request open
        yield* eventually(() => hanging.requests.length === 1)
        yield* alerts.evaluate(forcedSample({ cpuPercent: 1 }))
        assert.deepStrictEqual((yield* alerts.list).recent.map((a) => a.state), ["resolved"])
      }).pipe(Effect.provide(withAlerts({ webhookUrl: hanging.origin, webhookTimeoutMs: 600_000 })))

      // a closed port: the failure is logged after the retries, nothing else happens
      const closedPort = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const probe = net.createServer().listen(0, "127.0.0.1", () => {
            const { port } = probe.address() as net.AddressInfo
            probe.close(() => resolve(port))
          })
        })
      )
      const warnings: Array<string> = []
      const capture = Logger.layer([Logger.make(({ message }) => void warnings.push(String(message)))])
      yield* Effect.gen(function*() {
        yield* (yield* Alerts).evaluate(forcedSample({ memoryPercent: 99 }))
        assert.strictEqual(warnings.filter((w) => w.includes("webhook")).length, 0)
        yield* eventually(() => warnings.some((w) => w.includes("alert webhook failed")), TestClock.adjust("1 second"))
      }).pipe(Effect.provide(Layer.merge(withAlerts({ webhookUrl: `http://127.0.0.1:${closedPort}`, webhookRetries: 2 }), capture)))
    }))
})

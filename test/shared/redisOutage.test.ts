/**
 * Losing Redis degrades, it never refuses traffic: with the Redis server killed, /health/ready answers
 * 200 "degraded" naming Redis, the `redis` alert fires, tool calls are still served under limits counted
 * per router, and events stay on their router; once Redis is back, the alert resolves and limits and
 * events are shared again.
 *
 * Starts a Redis server of its own (Debian's redis-server) to kill it: skipped without the binary,
 * except under CI, where it fails.
 */
import { beforeAll, describe, expect, it } from "vitest"
import type { RunningServer } from "../security/support.ts"
import { cleanupAfterEach as closeSocketsAfterEach, connect, subscribe } from "../ws/support.ts"
import {
  call,
  cleanupAfterAll,
  eventually,
  from,
  inCi,
  type OwnRedis,
  redisServerBinary,
  type RouterProcess,
  sleep,
  startOwnRedis,
  startRouter,
  toolCall
} from "./support.ts"

cleanupAfterAll()
closeSocketsAfterEach()

const LIMIT = 4

const asServer = (router: RouterProcess): RunningServer => ({ url: router.url, workingDir: "", close: async () => {} })

const ready = async (router: RouterProcess) => {
  const reply = await call(`${router.url}/health/ready`)
  return { status: reply.status, body: reply.json }
}

// every request counts against its address's limit (LIMIT): each look at the alerts comes from a new one
let readers = 0
const alerts = async (router: RouterProcess) => {
  readers++
  const reply = await call(`${router.url}/api/alerts`, { headers: from(`10.9.${readers >> 8}.${readers & 255}`) })
  return reply.json as { active: Array<any>; recent: Array<any> }
}

/** Calls on `router` from `address` until one is refused: how many were served. */
const servedUntilRefused = async (router: RouterProcess, address: string) => {
  for (let served = 0; served <= 10 * LIMIT; served++) {
    const reply = await toolCall(router, address)
    if (reply.status === 429) return served
    expect(reply.status, reply.text).toBe(200)
  }
  throw new Error("never refused")
}

describe.skipIf(redisServerBinary === undefined && !inCi)("losing Redis", () => {
  let redis: OwnRedis
  let a: RouterProcess
  let b: RouterProcess

  beforeAll(async () => {
    redis = await startOwnRedis()
    const config = { redis: { url: redis.url }, security: { requireApiKey: false, trustedProxies: ["127.0.0.1"], maxRequestsPerMinute: LIMIT } }
    ;[a, b] = await Promise.all([startRouter("outage-a", config), startRouter("outage-b", config)])
  }, 90_000)

  it("degrades to per-router limits and local events with an alert, and shares them again once Redis is back", async () => {
    for (const router of [a, b]) {
      expect(await ready(router)).toEqual({ status: 200, body: { status: "ready", shared: { redis: "connected" } } })
    }

    await redis.kill()
    // readiness tells, without refusing: the load balancer keeps sending traffic
    for (const router of [a, b]) {
      expect(await eventually(async () => (await ready(router)).body.status === "degraded", 5_000), router.output()).toBe(true)
      const { status, body } = await ready(router)
      expect(status).toBe(200)
      expect(body.shared).toEqual({ redis: "disconnected" })
      expect(body.degraded).toEqual([expect.stringMatching(/^redis: cannot be reached: rate limits are counted per replica/)])
      // an alert, and a warning in the log
      const firing = (await alerts(router)).active.find((alert) => alert.rule === "redis")
      expect(firing, JSON.stringify(await alerts(router))).toMatchObject({ rule: "redis", state: "firing" })
      expect(firing.message).toContain("cannot be reached")
      expect(router.output()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ cannot be reached .*rate limits fall back to per-replica memory/)
    }
    // still serving, each router counting on its own: twice the limit in all
    expect(await servedUntilRefused(a, "10.2.0.1")).toBe(LIMIT)
    expect(await servedUntilRefused(b, "10.2.0.1")).toBe(LIMIT)
    // events stay on their router
    const watcher = await connect(asServer(b), { headers: from("10.2.0.9") })
    await watcher.next("welcome")
    await subscribe(watcher, "tool-executions")
    expect((await toolCall(a, "10.2.0.3", undefined, "write_file", { path: "while-down.txt", content: "a" })).status).toBe(200)
    expect((await toolCall(b, "10.2.0.3", undefined, "write_file", { path: "while-down.txt", content: "b" })).status).toBe(200)
    await watcher.next("tool_execution", (m) => m.event.tool === "write_file")
    await sleep(300)
    expect(watcher.received.filter((m) => m.type === "tool_execution" && m.event.tool === "write_file")).toHaveLength(1)

    await redis.restart()
    for (const router of [a, b]) {
      expect(await eventually(async () => (await ready(router)).body.status === "ready", 10_000), router.output()).toBe(true)
      expect(await ready(router)).toEqual({ status: 200, body: { status: "ready", shared: { redis: "connected" } } })
      const list = await alerts(router)
      expect(list.active.find((alert) => alert.rule === "redis")).toBeUndefined()
      expect(list.recent.find((alert) => alert.rule === "redis")).toMatchObject({ state: "resolved" })
      expect(router.output()).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is reachable again/)
    }
    // shared again: the limit holds across both routers
    let served = 0
    for (let i = 0; i < 2 * LIMIT; i++) {
      const reply = await toolCall(i % 2 === 0 ? a : b, "10.2.0.2")
      if (reply.status === 200) served++
      else expect(reply.status).toBe(429)
    }
    expect(served).toBe(LIMIT)
    // and so are events
    expect((await toolCall(a, "10.2.0.4", undefined, "write_file", { path: "after.txt", content: "a" })).status).toBe(200)
    const seen = await watcher.next("tool_execution", (m) => m.event.tool === "write_file")
    expect(seen.event).toMatchObject({ tool: "write_file", outcome: "ok" })
  })

  it("treats a Redis that keeps its connections but stops answering as lost, and serves all along", async () => {
    expect(await eventually(async () => (await ready(a)).body.status === "ready", 10_000)).toBe(true)
    redis.pause()
    try {
      // the heartbeat (a PING every 2 s, 1 s to answer) finds out; calls meanwhile wait at most 1 s for Redis
      const served = toolCall(a, "10.2.1.1")
      const firing = async () => (await alerts(a)).active.find((alert) => alert.rule === "redis")
      expect(await eventually(async () => (await firing()) !== undefined, 8_000), a.output()).toBe(true)
      expect((await firing())?.message).toContain("no answer to PING within 1000 ms")
      expect((await ready(a)).body).toMatchObject({ status: "degraded", shared: { redis: "disconnected" } })
      expect((await served).status).toBe(200)
      const started = Date.now()
      expect((await toolCall(a, "10.2.1.2")).status).toBe(200)
      expect(Date.now() - started, "ms a call took while Redis was known to hang").toBeLessThan(1_000)
    } finally {
      redis.resume()
    }
    expect(await eventually(async () => (await ready(a)).body.status === "ready", 10_000), a.output()).toBe(true)
    expect((await alerts(a)).active.find((alert) => alert.rule === "redis")).toBeUndefined()
  })
})

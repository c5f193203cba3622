/**
 * redis.url without a Redis server to hand: the setting and its environment variable, a default start
 * that loads nothing of Redis, and a router whose Redis cannot be reached at start: it starts and serves,
 * degraded (ready, limits per router, the `redis` alert), and never shows the Redis password.
 */
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { loadConfig } from "../../src/config/load.ts"
import { nodeBin, root } from "../security/support.ts"
import { call } from "../support/http.ts"
import { type RunningServer, startServer } from "../support/server.ts"

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()))
})

const cwd = fs.realpathSync(os.tmpdir())

describe("redis.url", () => {
  it("is read from MCP_REDIS_URL, unset by default and when empty, and must be a Redis URL", async () => {
    const load = (env: Record<string, string>) => Effect.runPromise(Effect.result(loadConfig({ env, cwd })))
    const unset = await load({})
    expect(unset._tag === "Success" && unset.success.redis).toEqual({})
    const empty = await load({ MCP_REDIS_URL: "" })
    expect(empty._tag === "Success" && empty.success.redis).toEqual({})
    for (const url of ["redis://localhost:6379", "redis://:secret@10.0.0.5:6379/2", "rediss://user:secret@redis.internal:6380"]) {
      const loaded = await load({ MCP_REDIS_URL: url })
      expect(loaded._tag === "Success" && loaded.success.redis).toEqual({ url })
    }
    for (const url of ["http://localhost:6379", "localhost:6379", "redis://localhost:6379/db"]) {
      const failed = await load({ MCP_REDIS_URL: url })
      expect(failed._tag).toBe("Failure")
      expect(failed._tag === "Failure" && failed.failure.message).toContain("redis.url (from MCP_REDIS_URL): Expected a Redis URL")
    }
  })

  it("unset, nothing of Redis is loaded: the router's modules never import the Redis client", () => {
    const script = [
      "import { createRequire } from 'node:module'",
      "await import('./src/main.ts')",
      "const loaded = Object.keys(createRequire(import.meta.url).cache)",
      "console.log(JSON.stringify({ redis: loaded.filter((m) => /[\\\\/](@redis|redis)[\\\\/]/.test(m)).length, total: loaded.length }))"
    ].join("\n")
    const output = execFileSync(nodeBin, ["--input-type=module", "-e", script], { cwd: root, encoding: "utf8" })
    const counts = JSON.parse(output.trim().split("\n").at(-1)!) as { redis: number; total: number }
    expect(counts.total).toBeGreaterThan(0)
    expect(counts.redis).toBe(0)
  })

  it("with Redis unreachable at start, the router starts degraded, serves, alerts and hides the password", async () => {
    const dataDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-redis-down-")))
    // port 1 refuses connections: nothing listens there
    const started = Date.now()
    const server = await startServer({ redis: { url: "redis://:s3cret-pass@127.0.0.1:1/4" }, storage: { dataDir }, security: { maxRequestsPerMinute: 2, trustedProxies: ["127.0.0.1"] } })
    servers.push(server)
    expect(Date.now() - started).toBeLessThan(15_000)

    const ready = await call(`${server.url}/health/ready`)
    expect(ready.status).toBe(200)
    expect(ready.json).toEqual({
      status: "degraded",
      shared: { redis: "disconnected" },
      degraded: ["redis: cannot be reached: rate limits are counted per replica and events stay on this replica"]
    })
    expect(ready.text).not.toContain("127.0.0.1:1")

    // served, under this router's own count (a client address of its own: other requests count too)
    const listDirectory = { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_directory", arguments: { path: "." } } }
    const headers = { "x-forwarded-for": "10.3.0.1" }
    // the other requests count too: each from an address of its own
    const reader = (n: number) => ({ "x-forwarded-for": `10.3.1.${n}` })
    expect((await call(`${server.url}/api/mcp/jsonrpc`, { body: listDirectory, headers })).status).toBe(200)
    expect((await call(`${server.url}/api/mcp/jsonrpc`, { body: listDirectory, headers })).status).toBe(200)
    expect((await call(`${server.url}/api/mcp/jsonrpc`, { body: listDirectory, headers })).status).toBe(429)

    const alerts = (await call(`${server.url}/api/alerts`, { headers: reader(1) })).json as { active: Array<{ rule: string; message: string }> }
    const redisAlert = alerts.active.find((alert) => alert.rule === "redis")
    expect(redisAlert?.message).toMatch(/^Redis at redis:\/\/:\[REDACTED\]@127\.0\.0\.1:1\/4 cannot be reached \(.*ECONNREFUSED.*\)/)

    const config = await call(`${server.url}/config`, { headers: reader(2) })
    expect(config.status).toBe(200)
    expect(config.text).not.toContain("s3cret-pass")
    expect(JSON.stringify(config.json)).toContain("redis://:[REDACTED]@127.0.0.1:1/4")
    const logs = await call(`${server.url}/logs?level=warn&limit=100`, { headers: reader(3) })
    expect(logs.text).toContain("cannot be reached")
    expect(logs.text).not.toContain("s3cret-pass")
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
})

/**
 * Rate limits (over HTTP, and the window's reset under TestClock) and the payload cap, declared and streamed.
 * Routes that carry tool calls (/api/mcp/jsonrpc, /mcp, /ws) count calls, not requests: see calls.test.ts.
 */
import { it as effectIt } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { TestClock } from "effect/testing"
import * as http from "node:http"
import * as os from "node:os"
import { describe, expect, it } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { RateLimits } from "../../src/security/RateLimits.ts"
import { SecurityStats } from "../../src/security/SecurityStats.ts"
import { ADMIN, call, cleanupAfterEach, createKey, jsonRpc, mcpInitialize, type Reply, rpc, start } from "./support.ts"

cleanupAfterEach()

const expectRateLimited = (reply: Reply, limit: number) => {
  expect(reply.status).toBe(429)
  const retryAfter = reply.headers.get("retry-after")!
  expect(retryAfter).toMatch(/^\d+$/)
  expect(Number(retryAfter)).toBeGreaterThanOrEqual(1)
  expect(reply.headers.get("ratelimit-limit")).toBe(String(limit))
  expect(reply.headers.get("ratelimit-remaining")).toBe("0")
  expect(reply.headers.get("ratelimit-reset")).toMatch(/^\d+$/)
}

describe("rate limits over HTTP", () => {
  it("refuses a key's 4th request in a minute with 429, counting down before; another key is unaffected", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    // the admin key has its own limit (security.adminRequestsPerMinute), so it can make keys freely
    const a = await createKey(server, { permissions: ["read"] })
    const b = await createKey(server, { permissions: ["read", "execute"] })

    const remaining: Array<string | null> = []
    for (let i = 0; i < 3; i++) {
      const reply = await call(`${server.url}/api/tools`, { key: a.key })
      expect(reply.status).toBe(200)
      expect(reply.headers.get("ratelimit-limit")).toBe("3")
      remaining.push(reply.headers.get("ratelimit-remaining"))
    }
    expect(remaining).toEqual(["2", "1", "0"])
    const refused = await call(`${server.url}/api/tools`, { key: a.key })
    expectRateLimited(refused, 3)
    expect(refused.json).toEqual({ error: { code: "rate_limited", message: expect.stringContaining("3 requests per minute") } })
    // health probes are never limited
    for (let i = 0; i < 5; i++) {
      const health = await call(`${server.url}/health`, { key: a.key })
      expect(health.status).toBe(200)
      expect(health.headers.get("ratelimit-remaining")).toBeNull()
    }

    // JSON-RPC counts tool calls, not requests: tools/list is free, the 4th tools/call is refused
    const listDirectory = { name: "list_directory", arguments: { path: "." } }
    for (let i = 0; i < 3; i++) expect((await jsonRpc(server, b.key, "tools/call", listDirectory)).status).toBe(200)
    expect((await jsonRpc(server, b.key, "tools/list")).status).toBe(200)
    const rpcRefused = await jsonRpc(server, b.key, "tools/call", listDirectory)
    expectRateLimited(rpcRefused, 3)
    expect(rpcRefused.json).toEqual({
      jsonrpc: "2.0",
      id: 1,
      error: { code: -32029, message: expect.stringContaining("Rate limit"), data: { retryAfterSeconds: expect.any(Number), limit: 3, window: "minute" } }
    })
    // starting an MCP session is not a tool call
    expect((await mcpInitialize(server, { key: b.key })).status).toBe(200)

    const c = await createKey(server, { permissions: ["read"] })
    expect((await call(`${server.url}/api/tools`, { key: c.key })).status).toBe(200)
    // the admin key is on security.adminRequestsPerMinute (1000), not the 3 of everyone else
    const admin = await call(`${server.url}/config`, { key: ADMIN })
    expect(admin.status).toBe(200)
    expect(admin.headers.get("ratelimit-limit")).toBe("1000")
  })

  it("applies a key's own ratePerMinute, below and above security.maxRequestsPerMinute", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    const tight = await createKey(server, { permissions: ["read"], ratePerMinute: 1 })
    const loose = await createKey(server, { permissions: ["read"], ratePerMinute: 5 })
    const first = await call(`${server.url}/api/tools`, { key: tight.key })
    expect(first.status).toBe(200)
    expect(first.headers.get("ratelimit-limit")).toBe("1")
    expect(first.headers.get("ratelimit-remaining")).toBe("0")
    expectRateLimited(await call(`${server.url}/api/tools`, { key: tight.key }), 1)
    for (let i = 0; i < 5; i++) expect((await call(`${server.url}/api/tools`, { key: loose.key })).status).toBe(200)
    expectRateLimited(await call(`${server.url}/api/tools`, { key: loose.key }), 5)
  })

  it("applies security.maxRequestsPerHour when it is the tighter window", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 100, maxRequestsPerHour: 2 } })
    const reader = await createKey(server, { permissions: ["read"] })
    const first = await call(`${server.url}/api/tools`, { key: reader.key })
    expect(first.headers.get("ratelimit-limit")).toBe("2")
    expect(first.headers.get("ratelimit-remaining")).toBe("1")
    expect((await call(`${server.url}/api/tools`, { key: reader.key })).status).toBe(200)
    const refused = await call(`${server.url}/api/tools`, { key: reader.key })
    expectRateLimited(refused, 2)
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(60)
    expect(refused.json.error.message).toContain("2 requests per hour")
  })

  it("limits anonymous callers per address, apart from keys, and never /health", async () => {
    const server = await start({ security: { requireApiKey: false, adminKey: ADMIN, maxRequestsPerMinute: 3 } }, false)
    for (let i = 0; i < 3; i++) expect((await call(`${server.url}/api/tools`)).status).toBe(200)
    expectRateLimited(await call(`${server.url}/api/tools`), 3)
    // requests and tool calls share the address's budget; a ping is neither
    expectRateLimited(await jsonRpc(server, undefined, "tools/call", { name: "list_directory", arguments: { path: "." } }), 3)
    expect((await jsonRpc(server, undefined, "ping")).status).toBe(200)
    for (let i = 0; i < 5; i++) expect((await call(`${server.url}/health`)).status).toBe(200)
    expect((await call(`${server.url}/api/tools`, { key: ADMIN })).status).toBe(200)
  })
})

describe("rate limit windows (RateLimits service, TestClock)", () => {
  const layer = RateLimits.layerMemory.pipe(
    Layer.provideMerge(Layer.mergeAll(AppConfig.layerFromInput({ security: { maxRequestsPerMinute: 2 }, tools: { workingDir: os.tmpdir() } }), SecurityStats.layer))
  )

  effectIt.effect("a full minute window refuses until it has passed, then serves again", () =>
    Effect.gen(function*() {
      const limits = yield* RateLimits
      const subject = { ip: "192.0.2.1" }
      expect((yield* limits.consume(subject)).remaining).toBe(1)
      expect((yield* limits.consume(subject)).remaining).toBe(0)
      const refused = yield* Effect.flip(limits.consume(subject))
      expect(refused).toMatchObject({ _tag: "RateLimited", window: "minute", limit: 2 })
      expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(1)
      expect(refused.retryAfterSeconds).toBeLessThanOrEqual(60)
      // another subject has its own window
      expect((yield* limits.consume({ ip: "192.0.2.2" })).remaining).toBe(1)
      expect((yield* limits.consume({ ip: "192.0.2.1", keyId: "key_x" })).remaining).toBe(1)

      yield* TestClock.adjust("30 seconds")
      expect((yield* Effect.flip(limits.consume(subject)))._tag).toBe("RateLimited")
      yield* TestClock.adjust("31 seconds")
      const again = yield* limits.consume(subject)
      expect(again).toMatchObject({ limit: 2, remaining: 1 })
      expect((yield* SecurityStats).snapshot().rateLimited.total).toBe(2)
    }).pipe(Effect.provide(layer)))

  // an hour overlaps at most 61 minute windows: a full minute window each time, for an hour and more
  const callsOverAnHour = (hourLimit: number) =>
    Effect.gen(function*() {
      const limits = yield* RateLimits
      const subject = { ip: "192.0.2.9" }
      const outcomes: Array<string> = []
      for (let window = 0; window < 62; window++) {
        for (let call = 0; call < 2; call++) {
          const result = yield* Effect.result(limits.consume(subject))
          outcomes.push(result._tag === "Success" ? "ok" : result.failure.window)
        }
        yield* TestClock.adjust("61 seconds")
      }
      return outcomes
    }).pipe(Effect.provide(RateLimits.layerMemory.pipe(
      Layer.provideMerge(Layer.mergeAll(
        AppConfig.layerFromInput({ security: { maxRequestsPerMinute: 2, maxRequestsPerHour: hourLimit }, tools: { workingDir: os.tmpdir() } }),
        SecurityStats.layer
      ))
    )))

  effectIt.effect("an hour limit below 61 minutes' worth refuses within the hour; one of 61 minutes' worth is never reached first", () =>
    Effect.gen(function*() {
      const below = yield* callsOverAnHour(100)
      // minute windows 61 s apart: the 101st call comes in the 51st, 50 minutes into the hour
      expect(below.indexOf("hour")).toBe(100)
      expect(below.slice(0, 100).every((outcome) => outcome === "ok")).toBe(true)
      const atThreshold = yield* callsOverAnHour(122)
      expect(atThreshold.every((outcome) => outcome === "ok")).toBe(true)
    }))
})

/** Streams up to `total` bytes as a chunked body; resolves on the response (or a cut connection) with what was sent by then. */
const streamBody = (url: string, total: number, headers: Record<string, string> = {}) =>
  new Promise<{ status?: number; headers?: http.IncomingHttpHeaders; text: string; sent: number; error?: string }>((resolve) => {
    let sent = 0
    let done = false
    let text = ""
    const request = http.request(url, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", "transfer-encoding": "chunked", ...headers }
    })
    const finish = (result: { status?: number; headers?: http.IncomingHttpHeaders; error?: string }) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resolve({ ...result, text, sent })
      request.destroy()
    }
    const timer = setTimeout(() => finish({ error: "no answer within 20 s" }), 20_000)
    request.on("response", (response) => {
      const atResponse = sent
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk))
      response.on("end", () => {
        sent = atResponse
        finish({ status: response.statusCode!, headers: response.headers })
      })
    })
    request.on("error", (error: NodeJS.ErrnoException) => finish({ error: error.code ?? error.message }))
    const chunk = Buffer.alloc(Math.min(64 * 1024, total), 0x20)
    const pump = () => {
      while (!done && sent < total) {
        sent += chunk.length
        if (!request.write(chunk)) return void request.once("drain", pump)
      }
      if (!done) request.end()
    }
    request.write("{\"padding\":\"")
    pump()
  })

describe("payload cap (security.maxPayloadBytes = 1000)", () => {
  const limited = () => start({ security: { maxPayloadBytes: 1000 } })
  const tooLarge = { jsonrpc: "2.0", id: null, error: { code: -32013, message: "The request body is larger than 1000 bytes (security.maxPayloadBytes)" } }
  const big = JSON.stringify({ ...rpc("ping"), params: { padding: "x".repeat(2000) } })

  it("answers 413 on a declared Content-Length over the cap, as JSON-RPC on the JSON-RPC endpoints", async () => {
    const server = await limited()
    for (const route of ["/api/mcp/jsonrpc", "/mcp"]) {
      const reply = await call(`${server.url}${route}`, { key: ADMIN, body: big, headers: { accept: "application/json, text/event-stream" } })
      expect(reply.status, route).toBe(413)
      expect(reply.json, route).toEqual(tooLarge)
    }
    const config = await call(`${server.url}/config`, { key: ADMIN, body: { "logging.level": "x".repeat(2000) } })
    expect(config.status).toBe(413)
    expect(config.json).toEqual({ error: { code: "payload_too_large", message: tooLarge.error.message } })
  })

  it("serves a body under the cap", async () => {
    const server = await limited()
    const body = JSON.stringify({ ...rpc("ping"), params: { padding: "x".repeat(800) } })
    expect(body.length).toBeLessThan(1000)
    const reply = await call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, body })
    expect(reply.status).toBe(200)
    expect(reply.json).toEqual({ jsonrpc: "2.0", id: 1, result: {} })
  })

  it("answers 413 on a chunked body without Content-Length at /api/mcp/jsonrpc", async () => {
    const server = await limited()
    const reply = await streamBody(`${server.url}/api/mcp/jsonrpc`, 5000, { authorization: `Bearer ${ADMIN}` })
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.text)).toEqual(tooLarge)
    expect(reply.headers!.connection).toBe("close")
  })

  it("cuts a 50 MB chunked body short with 413 instead of reading it all", async () => {
    const server = await limited()
    const total = 50 * 1024 * 1024
    const reply = await streamBody(`${server.url}/api/mcp/jsonrpc`, total, { authorization: `Bearer ${ADMIN}` })
    expect(reply.error).toBeUndefined()
    expect(reply.status).toBe(413)
    expect(reply.sent).toBeLessThan(total)
    // the server is still there for the next caller
    expect((await call(`${server.url}/health`)).status).toBe(200)
  })

  it("answers 413 on a chunked body over the cap at /mcp", async () => {
    const server = await limited()
    const reply = await streamBody(`${server.url}/mcp`, 5000, { authorization: `Bearer ${ADMIN}` })
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.text)).toEqual(tooLarge)
  })

  it("answers 413 on a chunked body over the cap at POST /config", async () => {
    const server = await limited()
    const reply = await streamBody(`${server.url}/config`, 5000, { authorization: `Bearer ${ADMIN}` })
    expect(reply.status).toBe(413)
    expect(JSON.parse(reply.text).error.code).toBe("payload_too_large")
  })
})

/**
 * Rate limits count tool calls, not HTTP requests: every tools/call on every transport (JSON-RPC single
 * and batched, /mcp, WebSocket execute_tool) takes one from the caller's budget in Router.call; a call
 * past it gets the rate-limit error for that call alone. Admin keys have their own, higher, finite limit;
 * local stdio calls are never limited.
 */
import { it as effectIt } from "@effect/vitest"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import { Effect, Layer } from "effect"
import * as os from "node:os"
import { describe, expect, it } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { routerCoreLayer } from "../../src/main.ts"
import type { Caller } from "../../src/router/Caller.ts"
import { Router } from "../../src/router/Router.ts"
import { limitsOf, RateLimits } from "../../src/security/RateLimits.ts"
import { SecurityStats } from "../../src/security/SecurityStats.ts"
import { cleanupAfterEach as cleanupSocketsAfterEach, open as openSocket } from "../ws/support.ts"
import { ADMIN, call, cleanupAfterEach, createKey, rpc, type RunningServer, start } from "./support.ts"

cleanupAfterEach()
cleanupSocketsAfterEach()

const listDirectory = { name: "list_directory", arguments: { path: "." } }
const toolCall = (id: number) => rpc("tools/call", listDirectory, id)
const batchOf = (count: number, from = 1) => Array.from({ length: count }, (_, i) => toolCall(from + i))

const postBatch = (server: RunningServer, key: string | undefined, body: unknown, headers: Record<string, string> = {}) =>
  call(`${server.url}/api/mcp/jsonrpc`, { key, body, headers })

/** The replies of a batch split into results and -32029 errors (anything else fails the test). */
const split = (replies: Array<any>) => {
  const results = replies.filter((r) => "result" in r)
  const limited = replies.filter((r) => r.error?.code === -32029)
  expect(results.length + limited.length, JSON.stringify(replies.filter((r) => !results.includes(r) && !limited.includes(r)))).toBe(replies.length)
  return { results, limited }
}

const expectLimitedError = (error: any, limit: number, window: "minute" | "hour" = "minute") => {
  expect(error).toEqual({
    code: -32029,
    message: expect.stringMatching(new RegExp(`Rate limit of ${limit} requests per ${window} reached; retry after \\d+ s`)),
    data: { retryAfterSeconds: expect.any(Number), limit, window }
  })
  expect(error.data.retryAfterSeconds).toBeGreaterThanOrEqual(1)
  expect(error.data.retryAfterSeconds).toBeLessThanOrEqual(window === "minute" ? 60 : 3600)
}

describe("JSON-RPC at /api/mcp/jsonrpc: each tools/call counts", () => {
  it("a key limited to 3 a minute sending a batch of 10 calls gets 3 results and 7 rate-limit errors", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    const user = await createKey(server, { permissions: ["execute"] })
    const reply = await postBatch(server, user.key, batchOf(10))
    // the batch itself is answered: one reply per message, every id once
    expect(reply.status).toBe(200)
    expect(reply.json).toHaveLength(10)
    expect(reply.json.map((r: any) => r.id).sort((a: number, b: number) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    const { limited, results } = split(reply.json)
    expect(results).toHaveLength(3)
    for (const result of results) expect(result.result.isError).toBe(false)
    expect(limited).toHaveLength(7)
    for (const error of limited) expectLimitedError(error.error, 3)
  })

  it("two batches (and single calls) of one key share its budget; other messages in a batch are not calls", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 5 } })
    const user = await createKey(server, { permissions: ["execute", "read"] })
    const other = await createKey(server, { permissions: ["execute"] })
    const first = await postBatch(server, user.key, [...batchOf(3), rpc("ping", undefined, 100), rpc("tools/list", undefined, 101)])
    expect(split(first.json).results).toHaveLength(5)
    const second = await postBatch(server, user.key, batchOf(4, 10))
    const { limited, results } = split(second.json)
    expect(results).toHaveLength(2)
    expect(limited).toHaveLength(2)
    // a single call past the budget: 429 with the edge's rate-limit headers
    const single = await postBatch(server, user.key, toolCall(20))
    expect(single.status).toBe(429)
    expect(single.headers.get("retry-after")).toBe(String(single.json.error.data.retryAfterSeconds))
    expect(single.headers.get("ratelimit-limit")).toBe("5")
    expect(single.headers.get("ratelimit-remaining")).toBe("0")
    expectLimitedError(single.json.error, 5)
    // a notification past the budget gets no reply, like any notification
    const notification = await postBatch(server, user.key, { jsonrpc: "2.0", method: "tools/call", params: listDirectory })
    expect(notification.status).toBe(204)
    // pings and tool lists still work; another key has its own budget
    expect((await postBatch(server, user.key, [rpc("ping"), rpc("tools/list", undefined, 2)])).json.every((r: any) => "result" in r)).toBe(true)
    expect(split((await postBatch(server, other.key, batchOf(6))).json).results).toHaveLength(5)
  })

  it("calls of unknown tools, calls the key may not make and calls with bad arguments count too", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    const reader = await createKey(server, { permissions: ["tools:read_*"] })
    const reply = await postBatch(server, reader.key, [
      rpc("tools/call", { name: "no_such_tool", arguments: {} }, 1),
      rpc("tools/call", { name: "write_file", arguments: { path: "x", content: "y" } }, 2),
      rpc("tools/call", { name: "read_file", arguments: { path: 7 } }, 3)
    ])
    expect(reply.json.map((r: any) => r.error.code).sort()).toEqual([-32003, -32602, -32602])
    const after = await postBatch(server, reader.key, rpc("tools/call", { name: "no_such_tool", arguments: {} }))
    expect(after.status).toBe(429)
    expectLimitedError(after.json.error, 3)
  })

  it("a key's own ratePerMinute applies per call; security.maxRequestsPerHour when it is the tighter window", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 100, maxRequestsPerHour: 4 } })
    const tight = await createKey(server, { permissions: ["execute"], ratePerMinute: 2 })
    const hourly = await createKey(server, { permissions: ["execute"] })
    const tightReply = split((await postBatch(server, tight.key, batchOf(5))).json)
    expect(tightReply.results).toHaveLength(2)
    for (const error of tightReply.limited) expectLimitedError(error.error, 2)
    const hourlyReply = split((await postBatch(server, hourly.key, batchOf(6))).json)
    expect(hourlyReply.results).toHaveLength(4)
    for (const error of hourlyReply.limited) expectLimitedError(error.error, 4, "hour")
    expect(hourlyReply.limited[0].error.data.retryAfterSeconds).toBeGreaterThan(60)
  })

  it("anonymous callers are counted per client address, apart from keys", async () => {
    const server = await start({ security: { requireApiKey: false, adminKey: ADMIN, maxRequestsPerMinute: 3, trustedProxies: ["127.0.0.1"] } }, false)
    const from = (address: string) => ({ "x-forwarded-for": address })
    const first = split((await postBatch(server, undefined, batchOf(5), from("192.0.2.1"))).json)
    expect(first.results).toHaveLength(3)
    expect(first.limited).toHaveLength(2)
    // the same address again: nothing left; spelled as an IPv4-mapped IPv6 address, it is the same address
    expect(split((await postBatch(server, undefined, batchOf(2), from("192.0.2.1"))).json).limited).toHaveLength(2)
    expect(split((await postBatch(server, undefined, batchOf(2), from("::ffff:192.0.2.1"))).json).limited).toHaveLength(2)
    // another address has its own budget
    expect(split((await postBatch(server, undefined, batchOf(5), from("192.0.2.2"))).json).results).toHaveLength(3)
    // a key from the same address has the key's budget, not the address's
    const keyed = await createKey(server, { permissions: ["execute"] }, ADMIN)
    expect(split((await postBatch(server, keyed.key, batchOf(3), from("192.0.2.1"))).json).results).toHaveLength(3)
  })

  it("an X-Forwarded-For from a peer that is not a trusted proxy gets no fresh budget", async () => {
    const server = await start({ security: { requireApiKey: false, maxRequestsPerMinute: 3 } }, false)
    const results = []
    for (const address of ["192.0.2.1", "192.0.2.2", "198.51.100.7", "::1", "10.0.0.1"]) {
      results.push(...split((await postBatch(server, undefined, batchOf(2), { "x-forwarded-for": address })).json).results)
    }
    expect(results).toHaveLength(3)
  })

  it("concurrent batches of one key: exactly the limit pass in total", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 30 } })
    const user = await createKey(server, { permissions: ["execute"] })
    const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => postBatch(server, user.key, batchOf(20, i * 20 + 1))))
    const all = replies.flatMap((reply) => reply.json)
    expect(all).toHaveLength(120)
    expect(split(all).results).toHaveLength(30)
  })

  it("security.maxBatchSize caps a batch (100 by default); past it the whole batch is refused before any call", async () => {
    const server = await start({ security: { maxBatchSize: 5, maxRequestsPerMinute: 3 } })
    const user = await createKey(server, { permissions: ["execute"] })
    const refused = await postBatch(server, user.key, batchOf(6))
    expect(refused.status).toBe(400)
    expect(refused.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: a batch holds at most 5 requests, got 6" } })
    // nothing was counted
    expect(split((await postBatch(server, user.key, batchOf(5))).json).results).toHaveLength(3)

    const defaults = await start()
    expect((await postBatch(defaults, ADMIN, batchOf(101))).json.error.message).toBe("Invalid Request: a batch holds at most 100 requests, got 101")
  })
})

describe("admin keys: their own, higher, finite limit", () => {
  it("a key holding * is not held to security.maxRequestsPerMinute (100): 150 calls pass", async () => {
    const server = await start()
    const first = split((await postBatch(server, ADMIN, batchOf(100))).json)
    const second = split((await postBatch(server, ADMIN, batchOf(50, 101))).json)
    expect(first.results.length + second.results.length).toBe(150)
    // an ordinary key is
    const user = await createKey(server, { permissions: ["execute"] })
    const ordinary = [...(await postBatch(server, user.key, batchOf(100))).json, ...(await postBatch(server, user.key, batchOf(50, 101))).json]
    expect(split(ordinary).results).toHaveLength(100)
    expect(split(ordinary).limited[0].error.data.limit).toBe(100)
  })

  it("security.adminRequestsPerMinute/PerHour limit keys holding admin or *, unless the key has its own limit", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 2, adminRequestsPerMinute: 6 } })
    // two of the admin key's six: making the keys
    const admin = await createKey(server, { permissions: ["admin", "execute"] })
    const ownLimit = await createKey(server, { permissions: ["*"], ratePerMinute: 3 })
    const root = split((await postBatch(server, ADMIN, batchOf(8))).json)
    expect(root.results).toHaveLength(4)
    for (const error of root.limited) expectLimitedError(error.error, 6)
    const adminReply = split((await postBatch(server, admin.key, batchOf(8))).json)
    expect(adminReply.results).toHaveLength(6)
    expect(split((await postBatch(server, ownLimit.key, batchOf(8))).json).results).toHaveLength(3)

    const hourly = await start({ security: { adminRequestsPerHour: 3 } })
    const hourlyReply = split((await postBatch(hourly, ADMIN, batchOf(5))).json)
    expect(hourlyReply.results).toHaveLength(3)
    for (const error of hourlyReply.limited) expectLimitedError(error.error, 3, "hour")
  })

  it("limitsOf: admin defaults for keys holding admin or *, never for anonymous callers (who hold * without requireApiKey)", () => {
    const security = { maxRequestsPerMinute: 10, maxRequestsPerHour: 100, adminRequestsPerMinute: 50, adminRequestsPerHour: 500 }
    expect(limitsOf({ ip: "x", keyId: "k", permissions: ["admin"] }, security)).toEqual({ minute: 50, hour: 500 })
    expect(limitsOf({ ip: "x", keyId: "k", permissions: ["read", "*"] }, security)).toEqual({ minute: 50, hour: 500 })
    expect(limitsOf({ ip: "x", keyId: "k", permissions: ["execute", "tools:admin*"] }, security)).toEqual({ minute: 10, hour: 100 })
    expect(limitsOf({ ip: "x", keyId: "k", permissions: ["admin"], ratePerMinute: 5 }, security)).toEqual({ minute: 5, hour: 500 })
    expect(limitsOf({ ip: "x", permissions: ["*"] }, security)).toEqual({ minute: 10, hour: 100 })
    expect(limitsOf({ ip: "x", keyId: "k" }, security)).toEqual({ minute: 10, hour: 100 })
  })
})

describe("/mcp (official SDK client)", () => {
  const connect = async (server: RunningServer, key: string) => {
    const client = new Client({ name: "limits", version: "1.0.0" })
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key}` } } })
    await client.connect(transport, { timeout: 10_000 })
    return client
  }

  it("the 4th call of a key limited to 3 fails with JSON-RPC error -32029 and its retry time; the session goes on", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    const user = await createKey(server, { permissions: ["execute", "read"] })
    const client = await connect(server, user.key)
    try {
      // the session's own requests (initialize, tools/list) are not tool calls
      expect((await client.listTools()).tools.length).toBeGreaterThan(0)
      for (let i = 0; i < 3; i++) expect(((await client.callTool(listDirectory)) as any).isError).toBe(false)
      const refused = await client.callTool(listDirectory).then(() => undefined, (error: unknown) => error)
      expect(refused).toBeInstanceOf(McpError)
      const error = refused as McpError
      expect(error.code).toBe(-32029)
      expect(error.message).toMatch(/Rate limit of 3 requests per minute reached; retry after \d+ s/)
      expect(error.data).toEqual({ retryAfterSeconds: expect.any(Number), limit: 3, window: "minute" })
      // the session is still usable
      expect((await client.listTools()).tools.length).toBeGreaterThan(0)
    } finally {
      await client.close()
    }
    // the budget is the key's, whatever the transport: JSON-RPC is refused too
    const rpcReply = await postBatch(server, user.key, toolCall(1))
    expect(rpcReply.status).toBe(429)
  })

  it("a batch of 10 calls at /mcp (protocol 2025-03-26 allows batches) gets 3 results and 7 rate-limit errors", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    const user = await createKey(server, { permissions: ["execute"] })
    const headers = { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-03-26" }
    const init = await call(`${server.url}/mcp`, {
      key: user.key,
      headers,
      body: rpc("initialize", { protocolVersion: "2025-03-26", capabilities: {}, clientInfo: { name: "limits", version: "1" } })
    })
    expect(init.status).toBe(200)
    const session = { ...headers, "mcp-session-id": init.headers.get("mcp-session-id")! }
    await call(`${server.url}/mcp`, { key: user.key, headers: session, body: { jsonrpc: "2.0", method: "notifications/initialized" } })
    const reply = await call(`${server.url}/mcp`, { key: user.key, headers: session, body: batchOf(10) })
    expect(reply.status).toBe(200)
    const replies = reply.headers.get("content-type")?.startsWith("text/event-stream")
      ? reply.text.split("\n").filter((line) => line.startsWith("data:")).map((line) => JSON.parse(line.slice(5)))
      : [reply.json].flat()
    expect(replies).toHaveLength(10)
    const { limited, results } = split(replies)
    expect(results).toHaveLength(3)
    expect(limited).toHaveLength(7)
    for (const error of limited) expectLimitedError(error.error, 3)
  })

  it("parallel calls on one session: exactly the limit pass", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 4 } })
    const user = await createKey(server, { permissions: ["execute"] })
    const client = await connect(server, user.key)
    try {
      const outcomes = await Promise.allSettled(Array.from({ length: 12 }, () => client.callTool(listDirectory)))
      expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(4)
      for (const o of outcomes.filter((o) => o.status === "rejected")) expect((o as PromiseRejectedResult).reason.code).toBe(-32029)
    } finally {
      await client.close()
    }
  })
})

describe("WebSocket execute_tool", () => {
  it("the 4th call of a key limited to 3 is answered with a rate_limited error; the socket stays open", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 3 } })
    const user = await createKey(server, { permissions: ["execute"] })
    const socket = await openSocket(server, user.key)
    for (let i = 1; i <= 4; i++) socket.send({ type: "execute_tool", id: i, toolName: "list_directory", arguments: { path: "." } })
    const replies = await Promise.all([1, 2, 3, 4].map((id) => socket.next("tool_executed", (m) => m.id === id)))
    expect(replies.filter((r) => r.result !== undefined)).toHaveLength(3)
    const refused = replies.filter((r) => r.error !== undefined)
    expect(refused).toHaveLength(1)
    expect(refused[0].error).toMatchObject({ code: "rate_limited", message: expect.stringMatching(/Rate limit of 3 requests per minute reached; retry after \d+ s/) })
    socket.send({ type: "ping", id: "still-open" })
    expect(await socket.next("pong", (m) => m.id === "still-open")).toBeDefined()
  })
})

describe("Router.call without HTTP", () => {
  const callers = {
    stdio: { transport: "stdio", permissions: ["*"] },
    jsonrpc: { transport: "jsonrpc", permissions: ["*"], ip: "192.0.2.9" }
  } satisfies Record<string, Caller>
  const config = AppConfig.layerFromInput({ security: { maxRequestsPerMinute: 2 }, tools: { workingDir: os.tmpdir() } })
  const callsPassing = (caller: Caller, count: number) =>
    Router.use((router) =>
      Effect.forEach(Array.from({ length: count }), () => Effect.result(router.call(caller, "list_directory", { path: "." })))
    ).pipe(Effect.map((results) => results.filter((r) => r._tag === "Success").length))

  effectIt.effect("with the security layer: stdio is never limited, other transports are", () =>
    Effect.gen(function*() {
      expect(yield* callsPassing(callers.stdio, 10)).toBe(10)
      expect(yield* callsPassing(callers.jsonrpc, 10)).toBe(2)
    }).pipe(Effect.provide(routerCoreLayer().pipe(Layer.provide(RateLimits.layerMemory), Layer.provide(SecurityStats.layer), Layer.provideMerge(config)))))

  effectIt.effect("without it (a library user's Router): nothing is counted", () =>
    Effect.gen(function*() {
      expect(yield* callsPassing(callers.jsonrpc, 10)).toBe(10)
    }).pipe(Effect.provide(routerCoreLayer().pipe(Layer.provideMerge(config)))))
})

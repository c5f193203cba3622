/**
 * Several router processes sharing one Redis (redis.url), as replicas behind a load balancer would:
 * a limit of N per minute allows N tool calls in total across three routers hit at once; a WebSocket
 * client on one router sees the calls made on another, each once; a key revoked on one router is refused
 * on another within a second, its open MCP session and WebSocket included.
 *
 * Needs the test Redis server (MCP_TEST_REDIS_URL, from .ci/redis.sh): skipped without it, except under
 * CI, where it fails.
 */
import { beforeAll, describe, expect, it } from "vitest"
import { mcpInitialize, type RunningServer } from "../security/support.ts"
import { type Client, cleanupAfterEach as closeSocketsAfterEach, connect, open, subscribe } from "../ws/support.ts"
import {
  call,
  cleanupAfterAll,
  eventually,
  from,
  inCi,
  redisKeys,
  type RouterProcess,
  sleep,
  startRouter,
  testDatabase,
  testRedisUrl,
  toolCall
} from "./support.ts"

cleanupAfterAll()
closeSocketsAfterEach()

const LIMIT = 12

/** The helpers of the other test folders take a server; they use its URL only. */
const asServer = (router: RouterProcess): RunningServer => ({ url: router.url, workingDir: "", close: async () => {} })

describe.skipIf(testRedisUrl === undefined && !inCi)("three routers sharing Redis", () => {
  let redis: string
  let routers: ReadonlyArray<RouterProcess>

  beforeAll(async () => {
    redis = await testDatabase(11)
    // anonymous callers, counted per client address: each test takes an address of its own
    const config = { redis: { url: redis }, security: { requireApiKey: false, trustedProxies: ["127.0.0.1"], maxRequestsPerMinute: LIMIT } }
    routers = await Promise.all(["a", "b", "c"].map((name) => startRouter(name, config)))
  }, 90_000)

  it(`allows exactly ${LIMIT} tool calls a minute in total when the three are hit at once`, async () => {
    const address = "10.1.0.1"
    // three times the limit, a third on each router, all at once
    const replies = await Promise.all(routers.flatMap((router) => Array.from({ length: LIMIT }, () => toolCall(router, address))))
    const ok = replies.filter((reply) => reply.status === 200)
    const refused = replies.filter((reply) => reply.status === 429)
    expect(ok.length + refused.length, JSON.stringify(replies.map((r) => [r.status, r.text.slice(0, 200)]))).toBe(3 * LIMIT)
    expect(ok).toHaveLength(LIMIT)
    for (const reply of ok) expect(reply.json.result.isError).toBe(false)
    for (const reply of refused) expect(reply.json.error).toMatchObject({ code: -32029, data: { limit: LIMIT, window: "minute" } })
    // every router refuses the next one: the count is in Redis, not in the routers
    for (const router of routers) expect((await toolCall(router, address)).status).toBe(429)
    expect(await redisKeys(redis, `mcp-router:ratelimit:minute:ip:${address}`)).toHaveLength(1)
    // another address has its own budget
    expect((await toolCall(routers[0]!, "10.1.0.9")).status).toBe(200)
  })

  it("shows a tool call made on router A to a WebSocket client on router B, and once on each router", async () => {
    const address = "10.1.0.2"
    const watchers: Array<Client> = []
    for (const router of routers) {
      const client = await connect(asServer(router), { headers: from(address) })
      await client.next("welcome")
      await subscribe(client, "tool-executions")
      watchers.push(client)
    }
    const [a] = routers
    const reply = await toolCall(a!, address, undefined, "write_file", { path: "from-a.txt", content: "a" })
    expect(reply.status).toBe(200)
    for (const watcher of watchers) {
      const seen = await watcher.next("tool_execution", (m) => m.event.tool === "write_file")
      expect(seen.event).toMatchObject({ tool: "write_file", keyName: "anonymous", transport: "jsonrpc", outcome: "ok" })
    }
    // the caller's own router delivers it once (not again when it comes back from Redis), and so do the others
    await sleep(500)
    for (const watcher of watchers) {
      expect(watcher.received.filter((m) => m.type === "tool_execution" && m.event.tool === "write_file")).toHaveLength(1)
    }
  })
})

describe.skipIf(testRedisUrl === undefined && !inCi)("a key revoked on one router", () => {
  const ADMIN = "replica-test-admin-key-0123456789abcdef"
  let a: RouterProcess
  let b: RouterProcess

  beforeAll(async () => {
    const redis = await testDatabase(12)
    // the two routers share their keys through one SQLite file (PostgreSQL in production)
    const dataDir = (await import("../support/server.ts")).makeTempDir("mcp-replica-keys-")
    const config = {
      redis: { url: redis },
      storage: { dataDir },
      security: { requireApiKey: true, adminKey: ADMIN },
      websocket: { heartbeatInterval: 60_000 }
    }
    a = await startRouter("keys-a", config)
    b = await startRouter("keys-b", config)
  }, 90_000)

  it("is refused on the other router within a second, its MCP session and WebSocket there included", async () => {
    const created = await call(`${a.url}/config`, { key: ADMIN, body: { "security.createApiKey": { name: "replicated", permissions: ["read", "execute"] } } })
    expect(created.status).toBe(201)
    const { key, id } = created.json as { key: string; id: string }

    // on B: a request, an MCP session and a WebSocket with that key
    expect((await call(`${b.url}/api/tools`, { key })).status).toBe(200)
    const initialized = await mcpInitialize(asServer(b), { key })
    expect(initialized.status).toBe(200)
    const session = initialized.headers.get("mcp-session-id")!
    expect(session).toBeTruthy()
    const socket = await open(asServer(b), key)
    await subscribe(socket, "tool-executions")

    const revokedAt = Date.now()
    const revoked = await call(`${a.url}/config`, { key: ADMIN, body: { "security.revokeApiKey": { id } } })
    expect(revoked.status).toBe(200)

    const refusedOnB = await eventually(async () => (await call(`${b.url}/api/tools`, { key })).status === 401, 3_000)
    const refusedAfter = Date.now() - revokedAt
    expect(refusedOnB).toBe(true)
    expect(refusedAfter, "ms until router B refused the revoked key").toBeLessThanOrEqual(1_000)

    const closed = await socket.closed
    expect(closed.code).toBe(4401)
    expect(Date.now() - revokedAt, "ms until router B closed the key's WebSocket").toBeLessThanOrEqual(1_500)

    const inSession = await call(`${b.url}/mcp`, {
      key,
      headers: { accept: "application/json, text/event-stream", "mcp-session-id": session, "mcp-protocol-version": "2025-06-18" },
      body: { jsonrpc: "2.0", id: 2, method: "tools/list" }
    })
    expect(inSession.status).toBe(401)
    // and on A, where it was revoked
    expect((await call(`${a.url}/api/tools`, { key })).status).toBe(401)
  })
})

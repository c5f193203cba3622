/**
 * MCP sessions at /mcp belong to their key, are capped and expire; a revoked key ends its sessions and
 * its requests in flight; protocol-version headers of any supported revision are served; batches are
 * capped.
 */
import { describe, expect, it } from "vitest"
import { ADMIN, call, cleanupAfterEach, createKey, eventually, mcpInitialize, revokeKey, type RunningServer, start } from "./support.ts"

cleanupAfterEach()

const accept = { accept: "application/json, text/event-stream" }

const open = async (server: RunningServer, key: string | undefined) => {
  const reply = await mcpInitialize(server, { key })
  expect(reply.status, reply.text).toBe(200)
  const id = reply.headers.get("mcp-session-id")
  expect(id).toBeTruthy()
  return id!
}

const ping = (server: RunningServer, key: string | undefined, session: string, headers: Record<string, string> = {}) =>
  call(`${server.url}/mcp`, { key, headers: { ...accept, "mcp-session-id": session, ...headers }, body: { jsonrpc: "2.0", id: 7, method: "ping" } })

const end = (server: RunningServer, key: string | undefined, session: string) =>
  call(`${server.url}/mcp`, { method: "DELETE", key, headers: { "mcp-session-id": session } })

const sessionStats = async (server: RunningServer) => (await call(`${server.url}/api/stats`, { key: ADMIN })).json.mcpSessions

describe("session ownership", () => {
  it("another key using or deleting a session gets 404; the owner's session is untouched", async () => {
    const server = await start()
    const a = await createKey(server, { permissions: ["execute"] })
    const b = await createKey(server, { permissions: ["*"] })
    const session = await open(server, a.key)
    for (const key of [b.key, ADMIN]) {
      const used = await ping(server, key, session)
      expect(used.status).toBe(404)
      expect(used.json.error.code).toBe(-32004)
      expect((await end(server, key, session)).status).toBe(404)
      const listed = await call(`${server.url}/mcp`, { key, headers: { ...accept, "mcp-session-id": session }, body: { jsonrpc: "2.0", id: 2, method: "tools/list" } })
      expect(listed.status).toBe(404)
    }
    expect((await ping(server, a.key, session)).status).toBe(200)
    expect((await end(server, a.key, session)).status).toBe(204)
    expect((await ping(server, a.key, session)).status).toBe(404)
  })

  it("unknown and forged session ids get 404, and anonymous callers own theirs by address", async () => {
    const server = await start({}, false)
    expect((await ping(server, undefined, "00000000-0000-0000-0000-000000000000")).status).toBe(404)
    expect((await ping(server, undefined, "../../etc")).status).toBe(404)
    const session = await open(server, undefined)
    expect((await ping(server, undefined, session)).status).toBe(200)
  })
})

describe("session caps", () => {
  it("past mcp.maxSessionsPerKey an initialize gets 429 with a JSON-RPC error; ending one makes room", async () => {
    const server = await start({ mcp: { maxSessionsPerKey: 3 } })
    const key = (await createKey(server, { permissions: ["execute"] })).key
    const sessions = [await open(server, key), await open(server, key), await open(server, key)]
    const refused = await mcpInitialize(server, { key })
    expect(refused.status).toBe(429)
    expect(refused.json.error.code).toBe(-32005)
    expect(refused.json.error.message).toContain("mcp.maxSessionsPerKey")
    expect((await sessionStats(server)).open).toBe(3)
    // another key is not held back by this one's sessions
    await open(server, (await createKey(server, { permissions: ["execute"] })).key)
    expect((await end(server, key, sessions[0]!)).status).toBe(204)
    await open(server, key)
  })

  it("past mcp.maxSessions an initialize gets 503 whatever the key", async () => {
    const server = await start({ mcp: { maxSessions: 2 } })
    await open(server, (await createKey(server, { permissions: ["execute"] })).key)
    await open(server, (await createKey(server, { permissions: ["execute"] })).key)
    const refused = await mcpInitialize(server, { key: (await createKey(server, { permissions: ["execute"] })).key })
    expect(refused.status).toBe(503)
    expect(refused.headers.get("retry-after")).toBeTruthy()
    expect((await sessionStats(server)).open).toBe(2)
  })

  it("1,000 initializes from one key leave at most maxSessionsPerKey sessions", async () => {
    const server = await start({ mcp: { maxSessionsPerKey: 20 } })
    const key = (await createKey(server, { permissions: ["execute"] })).key
    const replies = await Promise.all(Array.from({ length: 1000 }, () => mcpInitialize(server, { key })))
    expect(replies.filter((r) => r.status === 200)).toHaveLength(20)
    expect(replies.filter((r) => r.status === 429)).toHaveLength(980)
    expect((await sessionStats(server)).open).toBe(20)
  })
})

describe("session expiry", () => {
  it("a session idle past mcp.sessionIdleTimeout ends; one in use stays", async () => {
    const server = await start({ mcp: { sessionIdleTimeout: 1200 } })
    const key = (await createKey(server, { permissions: ["execute"] })).key
    const idle = await open(server, key)
    const busy = await open(server, key)
    const deadline = Date.now() + 2500
    while (Date.now() < deadline) {
      expect((await ping(server, key, busy)).status).toBe(200)
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect((await ping(server, key, idle)).status).toBe(404)
    expect((await ping(server, key, busy)).status).toBe(200)
    expect((await sessionStats(server)).open).toBe(1)
  })
})

describe("revocation", () => {
  it("revoking a key ends its open sessions within a second and its next request gets 401", async () => {
    const server = await start()
    const victim = await createKey(server, { permissions: ["execute"] })
    const session = await open(server, victim.key)
    expect((await ping(server, victim.key, session)).status).toBe(200)
    expect((await revokeKey(server, victim.id)).status).toBe(200)
    expect((await ping(server, victim.key, session)).status).toBe(401)
    expect(await eventually(async () => (await sessionStats(server)).open === 0, 1500)).toBe(true)
  })

  it("a key that expires while its session is open ends it", async () => {
    const server = await start()
    const key = await createKey(server, { permissions: ["execute"], expiresAt: new Date(Date.now() + 1500).toISOString() })
    const session = await open(server, key.key)
    expect((await ping(server, key.key, session)).status).toBe(200)
    expect(await eventually(async () => (await sessionStats(server)).open === 0, 3000)).toBe(true)
    expect((await ping(server, key.key, session)).status).toBe(401)
  })
})

describe("MCP-Protocol-Version", () => {
  it("any supported revision is served on a session negotiated at another; an unsupported one gets 400 naming the supported", async () => {
    const server = await start()
    const reply = await call(`${server.url}/mcp`, {
      key: ADMIN,
      headers: accept,
      body: { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-11-25", capabilities: {}, clientInfo: { name: "v", version: "1" } } }
    })
    const session = reply.headers.get("mcp-session-id")!
    for (const version of ["2025-03-26", "2025-06-18", "2025-11-25", "2024-11-05"]) {
      const used = await ping(server, ADMIN, session, { "mcp-protocol-version": version })
      expect(used.status, `${version}: ${used.text}`).toBe(200)
    }
    for (const version of ["1999-01-01", "2025-11-26", "latest", "2025-11-25,2025-06-18"]) {
      const refused = await ping(server, ADMIN, session, { "mcp-protocol-version": version })
      expect(refused.status, version).toBe(400)
      expect(refused.json.error.message).toContain("2025-11-25")
    }
  })
})

describe("batches on /mcp", () => {
  it("a batch larger than security.maxBatchSize is refused whole with 400", async () => {
    const server = await start({ security: { maxBatchSize: 5 } })
    const session = await open(server, ADMIN)
    const batch = (n: number) => Array.from({ length: n }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "ping" }))
    const refused = await call(`${server.url}/mcp`, { key: ADMIN, headers: { ...accept, "mcp-session-id": session }, body: batch(4200) })
    expect(refused.status).toBe(400)
    expect(refused.json.error.message).toContain("security.maxBatchSize")
    const small = await call(`${server.url}/mcp`, { key: ADMIN, headers: { ...accept, "mcp-session-id": session }, body: batch(5) })
    // within the cap it reaches the MCP transport, which answers for itself
    expect(small.text).not.toContain("security.maxBatchSize")
  })
})

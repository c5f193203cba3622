/** GET /api/security/stats: key counts and the counters of refused requests, after real refusals. */
import { describe, expect, it } from "vitest"
import { call, cleanupAfterEach, createKey, revokeKey, type RunningServer, start } from "./support.ts"

cleanupAfterEach()

const stats = async (server: RunningServer, key: string) => {
  const reply = await call(`${server.url}/api/security/stats`, { key })
  expect(reply.status).toBe(200)
  return reply.json
}

/** `total` and `lastHour` are exact; `lastMinute` may have lost earlier events to a minute boundary. */
const expectCount = (counts: { total: number; lastMinute: number; lastHour: number }, n: number) => {
  expect(counts.total).toBe(n)
  expect(counts.lastHour).toBe(n)
  expect(counts.lastMinute).toBeGreaterThanOrEqual(1)
  expect(counts.lastMinute).toBeLessThanOrEqual(n)
}

describe("GET /api/security/stats", () => {
  it("counts active, revoked and expired keys", async () => {
    const server = await start()
    const reader = await createKey(server, { permissions: ["read"] })
    const initial = await stats(server, reader.key)
    // the configured admin key and the reader
    expect(initial.keys).toEqual({ active: 2, revoked: 0, total: 2 })

    const doomed = await createKey(server, { permissions: ["execute"] })
    await createKey(server, { permissions: ["read"], expiresAt: new Date(Date.now() - 1000).toISOString() })
    expect((await stats(server, reader.key)).keys).toEqual({ active: 3, revoked: 0, total: 4 })
    expect((await revokeKey(server, doomed.id)).status).toBe(200)
    expect((await stats(server, reader.key)).keys).toEqual({ active: 2, revoked: 1, total: 4 })
    // revoking twice changes nothing
    expect((await revokeKey(server, doomed.id)).status).toBe(200)
    expect((await stats(server, reader.key)).keys).toEqual({ active: 2, revoked: 1, total: 4 })
  })

  it("starts with every counter at zero and lists the configured blocklist", async () => {
    const server = await start({ security: { blockedIps: ["10.9.9.9", "2001:db8::/32"] } })
    const reader = await createKey(server, { permissions: ["read"] })
    const snapshot = await stats(server, reader.key)
    for (const event of ["authFailure", "rateLimited", "blocked", "permissionDenied"]) {
      expect(snapshot.events[event], event).toEqual({ total: 0, lastMinute: 0, lastHour: 0 })
    }
    expect(snapshot.blockedIps).toEqual({ configured: ["10.9.9.9", "2001:db8::/32"], temporarilyBlocked: [] })
  })

  it("counts authentication failures, rate-limited, blocked and denied requests as they happen", async () => {
    const server = await start({
      security: {
        blockedIps: ["10.9.9.9"],
        trustedProxies: ["127.0.0.1"],
        authFailureLimit: { maxFailures: 3, windowSeconds: 60, blockSeconds: 60 }
      }
    })
    const reader = await createKey(server, { name: "reader", permissions: ["read"] })
    const limited = await createKey(server, { permissions: ["read"], ratePerMinute: 1 })
    const events = async () => (await stats(server, reader.key)).events

    // a missing key and a wrong key are both failed authentications
    expect((await call(`${server.url}/api/tools`)).status).toBe(401)
    expect((await call(`${server.url}/api/tools`, { key: "mcp_not-a-key-at-all" })).status).toBe(401)
    let now = await events()
    expectCount(now.authFailure, 2)
    expect(now.rateLimited.total).toBe(0)

    expect((await call(`${server.url}/api/tools`, { key: limited.key })).status).toBe(200)
    expect((await call(`${server.url}/api/tools`, { key: limited.key })).status).toBe(429)
    expect((await call(`${server.url}/api/tools`, { key: limited.key })).status).toBe(429)
    now = await events()
    expectCount(now.rateLimited, 2)

    const from = (ip: string) => ({ "x-forwarded-for": ip })
    expect((await call(`${server.url}/api/tools`, { key: reader.key, headers: from("10.9.9.9") })).status).toBe(403)
    expect((await call(`${server.url}/health`, { headers: from("10.9.9.9") })).status).toBe(403)
    now = await events()
    expectCount(now.blocked, 2)

    // three wrong keys from one client behind the proxy block it for a while
    for (let i = 0; i < 3; i++) expect((await call(`${server.url}/api/tools`, { key: "mcp_wrong", headers: from("198.51.100.7") })).status).toBe(401)
    expect((await call(`${server.url}/api/tools`, { key: reader.key, headers: from("198.51.100.7") })).status).toBe(403)
    const snapshot = await stats(server, reader.key)
    expect(snapshot.events.authFailure.total).toBe(5)
    expect(snapshot.events.blocked.total).toBe(3)
    expect(snapshot.blockedIps.temporarilyBlocked).toEqual([{ ip: "198.51.100.7", until: expect.any(String) }])
    expect(Date.parse(snapshot.blockedIps.temporarilyBlocked[0].until)).toBeGreaterThan(Date.now())

    expect((await call(`${server.url}/config`, { key: reader.key })).status).toBe(403)
    now = await events()
    expectCount(now.permissionDenied, 1)
    // reading the stats is itself none of these
    expect((await events()).authFailure.total).toBe(5)
  })

  it("counts a refused tool call as permissionDenied", async () => {
    const server = await start()
    const { key } = await createKey(server, { permissions: ["read", "tools:read_*"] })
    const refused = await call(`${server.url}/api/mcp/jsonrpc`, { key, body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "write_file", arguments: {} } } })
    expect(refused.status).toBe(403)
    expect(refused.json.error.code).toBe(-32003)
    expect((await stats(server, key)).events.permissionDenied.total).toBe(1)
  })
})

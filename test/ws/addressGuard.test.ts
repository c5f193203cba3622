/**
 * /ws honours the address guard exactly as HTTP does: every failed `auth` message counts as a failed
 * authentication of the client's address; an address refused by the guard (blocked by failures over
 * HTTP or /ws, or in security.blockedIps) cannot authenticate over /ws and its connections close with
 * 4403; failures never tell whether a key exists; a forged X-Forwarded-For changes nothing unless the
 * peer is a trusted proxy. The session applies the guard itself, without the HTTP edge in front of it.
 */
import { describe, expect, it } from "vitest"
import { authFailedMessage } from "../../src/ws/sessionAuth.ts"
import {
  ADMIN,
  cleanupAfterEach,
  closeAfterTest,
  connect,
  createKey,
  getText,
  open,
  revokeKey,
  start,
  subscribe,
  within
} from "./support.ts"
import { startSessionOnly } from "./sessionOnly.ts"

cleanupAfterEach()

/** Three failures within a minute block the address for a minute. */
const maxFailures = 3
const guarded = (security: Record<string, unknown> = {}) => ({
  websocket: { authTimeout: 10_000 },
  security: { authFailureLimit: { maxFailures, windowSeconds: 60, blockSeconds: 60 }, ...security }
})
const secure = { secure: true } as const
const wrongKey = (i: number) => `mcp_${String(i).padStart(43, "W")}`

describe("failed auth messages count against the address", () => {
  it(`${maxFailures} wrong keys block the address: that socket closes with 4403, the right key is refused on another, HTTP gets 403`, async () => {
    const server = await start(guarded(), secure)
    const { key } = await createKey(server, "right", ["read"])
    const guesser = await open(server)
    // opened before the block, to try the right key after it
    const late = await open(server)
    for (let i = 0; i < maxFailures; i++) {
      guesser.send({ type: "auth", apiKey: wrongKey(i) })
      expect(await guesser.next("error")).toEqual({ type: "error", code: "unauthenticated", message: authFailedMessage })
    }
    // the last failure blocked the address
    expect(await guesser.next("error")).toMatchObject({ code: "address_blocked" })
    expect((await within(guesser.closed, "the 4403 close")).code).toBe(4403)

    late.send({ type: "auth", apiKey: key })
    expect(await late.next("error")).toMatchObject({ code: "address_blocked" })
    expect((await within(late.closed, "the 4403 close")).code).toBe(4403)
    expect(late.received.some((m) => m.type === "auth_ok")).toBe(false)

    const http = await getText(server, "/api/tools", key)
    expect(http.status).toBe(403)
    expect(http.text).toContain("address_blocked")
    await expect(connect(server, { headers: { authorization: `Bearer ${key}` } })).rejects.toThrow("Unexpected server response: 403")
    await expect(connect(server)).rejects.toThrow("Unexpected server response: 403")
  })

  it("failures spread over several sockets add up", async () => {
    const server = await start(guarded(), secure)
    const sockets = await Promise.all(Array.from({ length: maxFailures }, () => open(server)))
    for (const [i, socket] of sockets.entries()) {
      socket.send({ type: "auth", apiKey: wrongKey(i) })
      await socket.next("error")
    }
    expect((await within(sockets.at(-1)!.closed, "the 4403 close")).code).toBe(4403)
    expect((await getText(server, "/api/tools", ADMIN)).status).toBe(403)
  })

  it("the answer to a failed auth is the same for an unknown, a revoked and an expired key", async () => {
    // failures are what this test makes: a high limit keeps the address open
    const server = await start(guarded({ authFailureLimit: { maxFailures: 100, windowSeconds: 60, blockSeconds: 60 } }), secure)
    const revoked = await createKey(server, "revoked", ["read"])
    await revokeKey(server, revoked.id)
    const expired = await createKey(server, "expired", ["read"], { expiresAt: "2001-01-01T00:00:00Z" })
    const client = await open(server)
    const answers = []
    for (const apiKey of [wrongKey(1), revoked.key, expired.key, "not even a key", revoked.key.slice(0, -1)]) {
      client.send({ type: "auth", apiKey })
      answers.push(await client.next("error"))
    }
    for (const answer of answers) expect(answer).toEqual({ type: "error", code: "unauthenticated", message: authFailedMessage })
    expect(client.raw.join("")).not.toMatch(/revoked|expired/i)
  })
})

describe("an address blocked over HTTP", () => {
  it("cannot authenticate over /ws, and its open connections close with 4403, even one that only answers heartbeats", async () => {
    const server = await start(guarded(), secure)
    const { key } = await createKey(server, "right", ["read"])
    const waiting = await open(server)
    // authenticated before the block, sending nothing but pongs
    const quiet = await open(server, key)
    await subscribe(quiet, "alerts")
    for (let i = 0; i < maxFailures; i++) expect((await getText(server, "/api/tools", wrongKey(i))).status).toBe(401)
    expect((await getText(server, "/api/tools", key)).status).toBe(403)

    waiting.send({ type: "auth", apiKey: key })
    expect(await waiting.next("error")).toMatchObject({ code: "address_blocked" })
    expect((await within(waiting.closed, "the 4403 close")).code).toBe(4403)
    expect(waiting.received.some((m) => m.type === "auth_ok")).toBe(false)
    // closed at its next heartbeat (300 ms)
    expect((await within(quiet.closed, "the 4403 close of the quiet connection", 2_000)).code).toBe(4403)
    await expect(connect(server)).rejects.toThrow("Unexpected server response: 403")
  })
})

describe("X-Forwarded-For", () => {
  it("without trustedProxies a forged X-Forwarded-For changes nothing: the peer's address is blocked", async () => {
    const server = await start(guarded(), secure)
    for (let i = 0; i < maxFailures; i++) {
      const client = await connect(server, { headers: { "x-forwarded-for": `203.0.113.${i + 1}` } })
      await client.next("welcome")
      client.send({ type: "auth", apiKey: wrongKey(i) })
      await client.next("error")
    }
    await expect(connect(server, { headers: { "x-forwarded-for": "203.0.113.99" } })).rejects.toThrow("Unexpected server response: 403")
    expect((await getText(server, "/api/tools", ADMIN, { "x-forwarded-for": "198.51.100.1" })).status).toBe(403)
  })

  it("behind a trusted proxy the forwarded address is the one blocked, and only it", async () => {
    const server = await start(guarded({ trustedProxies: ["127.0.0.1"] }), secure)
    const { key } = await createKey(server, "right", ["read"])
    const guesser = await open(server, undefined, { headers: { "x-forwarded-for": "203.0.113.7" } })
    for (let i = 0; i < maxFailures; i++) {
      guesser.send({ type: "auth", apiKey: wrongKey(i) })
      await guesser.next("error")
    }
    expect((await within(guesser.closed, "the 4403 close")).code).toBe(4403)
    await expect(connect(server, { headers: { "x-forwarded-for": "203.0.113.7" } })).rejects.toThrow("Unexpected server response: 403")
    expect((await getText(server, "/api/tools", key, { "x-forwarded-for": "203.0.113.7" })).status).toBe(403)
    // another client of the proxy, and the proxy itself, are not blocked
    const neighbour = await open(server, undefined, { headers: { "x-forwarded-for": "203.0.113.8" } })
    neighbour.send({ type: "auth", apiKey: key })
    expect(await neighbour.next("auth_ok")).toMatchObject({ keyName: "right" })
    expect((await getText(server, "/api/tools", key)).status).toBe(200)
  })
})

describe("the session applies the guard itself (no HTTP edge in front)", () => {
  it("a connection from a blocked address is told and closed with 4403, before any welcome", async () => {
    const server = closeAfterTest(await startSessionOnly({ adminKey: ADMIN, blockedIps: ["198.51.100.0/24"] }))
    const blocked = await connect(server, { headers: { "x-test-client-ip": "198.51.100.20" } })
    expect((await within(blocked.closed, "the 4403 close")).code).toBe(4403)
    expect(blocked.received.map((m) => m.type)).toEqual(["error"])
    expect(blocked.received[0]).toMatchObject({ code: "address_blocked" })
    const allowed = await connect(server, { headers: { "x-test-client-ip": "192.0.2.20" } })
    expect(await allowed.next("welcome")).toMatchObject({ authenticated: false })
  })

  it("without an address from the edge the TCP peer's is used", async () => {
    const server = closeAfterTest(await startSessionOnly({ adminKey: ADMIN, blockedIps: ["127.0.0.1"] }))
    const blocked = await connect(server)
    expect((await within(blocked.closed, "the 4403 close")).code).toBe(4403)
  })

  it("failed auth messages block the address: its next connection is refused by the session", async () => {
    const server = closeAfterTest(await startSessionOnly({ adminKey: ADMIN, authFailureLimit: { maxFailures, windowSeconds: 60, blockSeconds: 60 } }, { authTimeout: 10_000 }))
    const from = { headers: { "x-test-client-ip": "203.0.113.50" } }
    const guesser = await open(server, undefined, from)
    for (let i = 0; i < maxFailures; i++) {
      guesser.send({ type: "auth", apiKey: wrongKey(i) })
      expect(await guesser.next("error")).toMatchObject({ code: "unauthenticated", message: authFailedMessage })
    }
    expect((await within(guesser.closed, "the 4403 close")).code).toBe(4403)
    const again = await connect(server, from)
    expect((await within(again.closed, "the 4403 close at connect")).code).toBe(4403)
    expect(again.received.some((m) => m.type === "welcome")).toBe(false)
    const elsewhere = await open(server, ADMIN, { headers: { "x-test-client-ip": "203.0.113.51" } })
    expect(elsewhere.received.at(-1)).toMatchObject({ type: "auth_ok" })
  })
})

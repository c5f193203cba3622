/**
 * A key that ends (revoked over HTTP, or past its expiresAt) closes every connection authenticated with
 * it with 4401 within about a second, whatever the connection does: one that only answers heartbeats
 * while subscribed to a room, one that never reads, one authenticated on the upgrade or by message.
 * Re-authenticating with another key moves the watch to that key.
 */
import { describe, expect, it } from "vitest"
import {
  ADMIN,
  type Client,
  cleanupAfterEach,
  connect,
  createKey,
  eventually,
  getText,
  metricValue,
  open,
  revokeKey,
  start,
  subscribe,
  testTools,
  within
} from "./support.ts"

cleanupAfterEach()

/** The brief: a key ends everywhere within one second (KeyWatch checks every 0.5 s, a silent client gets 0.25 s). */
const END_MS = 1_000
/** Slack for a loaded test machine on top of END_MS. */
const SLACK_MS = 500

const relaxed = { websocket: { authTimeout: 5_000 } }

/** Waits for the close and answers it with the time it took from `since`. */
const closedWithin = async (client: Client, since: number, what: string, ms = END_MS + SLACK_MS) => {
  const closed = await within(client.closed, what, ms)
  return { ...closed, after: Date.now() - since }
}

/** Subscribes to tool-executions and proves it by one event from `driver`'s call. */
const receivingEvents = async (clients: ReadonlyArray<Client>, driver: Client, id: string) => {
  for (const client of clients) await subscribe(client, "tool-executions")
  driver.send({ type: "execute_tool", id, toolName: "echo", arguments: { text: id } })
  for (const client of clients) await client.next("tool_execution", (m) => m.event.tool === "echo")
}

describe("revocation closes every connection of the key", () => {
  it("connections that only answer heartbeats, authenticated on the upgrade and by message, close with 4401", async () => {
    const { tools } = testTools()
    const server = await start(relaxed, { secure: true, tools })
    const { key, id } = await createKey(server, "watched", ["read"])
    const other = await createKey(server, "bystander", ["read"])
    const driver = await open(server, ADMIN)
    // the heartbeat is 300 ms: these clients answer pings (autoPong) and send nothing else
    const byHeader = await connect(server, { headers: { authorization: `Bearer ${key}` } })
    expect(await byHeader.next("welcome")).toMatchObject({ authenticated: true })
    const byQuery = await connect(server, { headers: { "x-api-key": key } })
    await byQuery.next("welcome")
    const byMessage = await open(server, key)
    const bystander = await open(server, other.key)
    await receivingEvents([byHeader, byQuery, byMessage, bystander], driver, "before")

    const revoked = Date.now()
    await revokeKey(server, id)
    for (const [what, client] of [["by header", byHeader], ["by X-API-Key", byQuery], ["by message", byMessage]] as const) {
      const closed = await closedWithin(client, revoked, `the close of the connection authenticated ${what}`)
      expect(closed.code, what).toBe(4401)
      expect(closed.reason, what).toContain("revoked")
      expect(closed.after, what).toBeLessThanOrEqual(END_MS + SLACK_MS)
    }
    // events after the revocation reach the other key's connection only
    driver.send({ type: "execute_tool", id: "after", toolName: "echo", arguments: { text: "after" } })
    await bystander.next("tool_execution", (m) => m.event.tool === "echo")
    for (const client of [byHeader, byQuery, byMessage]) {
      expect(client.received.filter((m) => m.type === "tool_execution")).toHaveLength(1)
    }
    bystander.send({ type: "ping", id: "still" })
    expect(await bystander.next("pong")).toEqual({ type: "pong", id: "still" })
  })

  it("a connection that never reads is cut within the second, though it cannot read the close frame", async () => {
    const { tools } = testTools()
    // no heartbeat during the test: only the key's end may close the silent client
    const server = await start({ websocket: { heartbeatInterval: 60_000, authTimeout: 5_000 } }, { secure: true, tools })
    const { key, id } = await createKey(server, "silent", ["read"])
    const driver = await open(server, ADMIN)
    const silent = await connect(server, { headers: { authorization: `Bearer ${key}` }, autoPong: false })
    await silent.next("welcome")
    await subscribe(silent, "logs")
    // the client stops reading; what the server sends piles up unread
    silent.ws.pause()
    const text = "q".repeat(32 * 1024)
    for (let i = 0; i < 20; i++) driver.send({ type: "execute_tool", id: i, toolName: "shout", arguments: { text } })
    await driver.next("tool_executed", (m) => m.id === 19)
    const closes = async () => metricValue((await getText(server, "/metrics/prometheus", ADMIN)).text, "mcp_router_websocket_closes_total", 'code="4401"') ?? 0
    expect(await closes()).toBe(0)

    const revoked = Date.now()
    await revokeKey(server, id)
    // the server counts a close once its side of the TCP connection is gone
    const cut = await eventually(async () => (await closes()) === 1, END_MS + SLACK_MS)
    expect(cut, "the silent connection was not closed in time").toBe(true)
    expect(Date.now() - revoked).toBeLessThanOrEqual(END_MS + SLACK_MS)
    const connections = metricValue((await getText(server, "/metrics/prometheus", ADMIN)).text, "mcp_router_websocket_connections")
    // the driver is the one left
    expect(connections).toBe(1)
  })

  it("a tool call running on the connection is interrupted", async () => {
    const { record, tools } = testTools()
    const server = await start(relaxed, { secure: true, tools })
    const { key, id } = await createKey(server, "runner", ["execute"])
    const client = await open(server, key)
    client.send({ type: "execute_tool", id: 1, toolName: "slow", arguments: {} })
    expect(await eventually(() => record.slowStarted === 1)).toBe(true)
    const revoked = Date.now()
    await revokeKey(server, id)
    expect((await closedWithin(client, revoked, "the close")).code).toBe(4401)
    expect(await eventually(() => record.slowInterrupted === 1, 2_000)).toBe(true)
  })

  it("re-authenticating with another key moves the watch: the first key's end leaves it open, the second's closes it", async () => {
    const server = await start(relaxed, { secure: true })
    const first = await createKey(server, "first", ["read"])
    const second = await createKey(server, "second", ["read"])
    // authenticated on the upgrade with the first key, then by message with the second
    const moved = await connect(server, { headers: { authorization: `Bearer ${first.key}` } })
    await moved.next("welcome")
    moved.send({ type: "auth", apiKey: second.key })
    expect(await moved.next("auth_ok")).toMatchObject({ keyName: "second" })
    // and one by message from the first key to the second
    const movedByMessage = await open(server, first.key)
    movedByMessage.send({ type: "auth", apiKey: second.key })
    await movedByMessage.next("auth_ok")
    // still on the first key: its close shows the first key's end has been seen
    const sentinel = await open(server, first.key)

    await revokeKey(server, first.id)
    expect((await closedWithin(sentinel, Date.now(), "the sentinel's close")).code).toBe(4401)
    for (const client of [moved, movedByMessage]) {
      client.send({ type: "ping", id: "open" })
      expect(await client.next("pong")).toEqual({ type: "pong", id: "open" })
      await subscribe(client, "alerts")
    }

    const revoked = Date.now()
    await revokeKey(server, second.id)
    for (const client of [moved, movedByMessage]) expect((await closedWithin(client, revoked, "the close on the second key")).code).toBe(4401)
  })

  it("a key revoked over /ws closes its connections at once", async () => {
    const server = await start(relaxed, { secure: true })
    const { key, id } = await createKey(server, "revoked-over-ws", ["read"])
    const client = await open(server, key)
    await subscribe(client, "alerts")
    const admin = await open(server, ADMIN)
    admin.send({ type: "manage_api_key", id: "v", action: "revoke", keyId: id })
    await admin.next("api_key")
    // before KeyWatch's next check: whatever the client sends now is not served
    client.send({ type: "subscribe", room: "logs" })
    expect((await within(client.closed, "the close")).code).toBe(4401)
    expect(client.received.some((m) => m.type === "subscribed" && m.room === "logs")).toBe(false)
  })
})

describe("expiry closes every connection of the key", () => {
  it("a key whose expiresAt passes while connected closes its connections with 4401", async () => {
    const server = await start(relaxed, { secure: true })
    const expiresAt = Date.now() + 2_000
    const { key } = await createKey(server, "short-lived", ["read"], { expiresAt: new Date(expiresAt).toISOString() })
    const byMessage = await open(server, key)
    const byHeader = await connect(server, { headers: { authorization: `Bearer ${key}` } })
    await byHeader.next("welcome")
    await subscribe(byMessage, "alerts")
    for (const client of [byMessage, byHeader]) {
      const closed = await within(client.closed, "the close at expiry", expiresAt - Date.now() + END_MS + SLACK_MS)
      expect(closed.code).toBe(4401)
      expect(closed.reason).toContain("expired")
    }
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt)
    expect(Date.now() - expiresAt).toBeLessThanOrEqual(END_MS + SLACK_MS)
  })
})

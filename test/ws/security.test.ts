/**
 * /ws with API keys required: authenticating by message or on the upgrade, the auth timeout, the
 * permissions of rooms, tool calls and key management, and the guards the upgrade passes.
 */
import { describe, expect, it } from "vitest"
import { ADMIN, cleanupAfterEach, connect, createKey, eventually, getText, open, start, subscribe, testTools, within } from "./support.ts"

cleanupAfterEach()

const secure = { secure: true } as const
/** Room to authenticate in, for the tests that are not about the auth timeout. */
const relaxed = { websocket: { authTimeout: 5_000 } }

describe("authentication", () => {
  it("the whole flow: welcome, only auth and ping before auth_ok, then rooms and tool calls", async () => {
    const { tools } = testTools()
    const server = await start(relaxed, { ...secure, tools })
    const { key } = await createKey(server, "flow", ["read", "execute"])
    const client = await connect(server)
    expect(await client.next("welcome")).toMatchObject({ authRequired: true, authenticated: false })
    client.send({ type: "ping", id: 1 })
    expect(await client.next("pong")).toEqual({ type: "pong", id: 1 })
    for (const message of [
      { type: "subscribe", room: "logs" },
      { type: "subscribe_metrics" },
      { type: "execute_tool", id: 2, toolName: "echo", arguments: { text: "x" } },
      { type: "manage_api_key", id: 3, action: "list" }
    ]) {
      client.send(message)
      expect((await client.next("error")).code, message.type).toBe("unauthenticated")
    }
    client.send({ type: "auth", apiKey: `mcp_${"B".repeat(43)}` })
    expect(await client.next("error")).toMatchObject({ code: "unauthenticated" })
    client.send({ type: "auth", apiKey: key })
    expect(await client.next("auth_ok")).toEqual({ type: "auth_ok", keyName: "flow", permissions: ["read", "execute"] })
    await subscribe(client, "tool-executions")
    client.send({ type: "execute_tool", id: 4, toolName: "echo", arguments: { text: "x" } })
    expect(await client.next("tool_executed", (m) => m.id === 4)).toMatchObject({ toolName: "echo", result: expect.any(Object) })
    expect((await client.next("tool_execution")).event).toMatchObject({ tool: "echo", keyName: "flow", outcome: "ok" })
    expect(client.received.some((m) => m.type === "log" || m.type === "metrics-update")).toBe(false)
  })

  it("a connection not authenticated within authTimeout is closed with 4401; an authenticated one stays", async () => {
    const server = await start({}, secure)
    const { key } = await createKey(server, "stays", ["read"])
    const idle = await open(server)
    const authed = await open(server, key)
    expect((await within(idle.closed, "the auth timeout close")).code).toBe(4401)
    // past the timeout, the authenticated connection still answers
    authed.send({ type: "ping", id: "after" })
    expect(await authed.next("pong")).toEqual({ type: "pong", id: "after" })
  })

  it("a key in Authorization, X-API-Key or ?api_key authenticates the upgrade", async () => {
    const server = await start(relaxed, secure)
    const { key } = await createKey(server, "upgrade", ["read"])
    for (const options of [{ headers: { authorization: `Bearer ${key}` } }, { headers: { "x-api-key": key } }, { query: `?api_key=${key}` }]) {
      const client = await connect(server, options)
      expect(await client.next("welcome"), JSON.stringify(options)).toMatchObject({ authRequired: true, authenticated: true })
      expect(await subscribe(client, "alerts")).toEqual({ type: "subscribed", room: "alerts" })
    }
  })

  it("a wrong key on the upgrade is refused with 401", async () => {
    const server = await start(relaxed, secure)
    await expect(connect(server, { headers: { authorization: `Bearer mcp_${"C".repeat(43)}` } })).rejects.toThrow("Unexpected server response: 401")
  })
})

describe("permissions, as over HTTP", () => {
  it("rooms need read: an execute-only key is refused, a read or admin key subscribes", async () => {
    const server = await start(relaxed, secure)
    const runner = await open(server, (await createKey(server, "runner", ["execute"])).key)
    for (const room of ["metrics", "tool-executions", "alerts", "logs"]) {
      runner.send({ type: "subscribe", room })
      expect(await runner.next("error"), room).toMatchObject({ code: "forbidden", message: expect.stringContaining("read") })
    }
    runner.send({ type: "subscribe_metrics" })
    expect((await runner.next("error")).code).toBe("forbidden")
    expect(runner.received.some((m) => m.type === "subscribed")).toBe(false)
    const admin = await open(server, (await createKey(server, "boss", ["admin"])).key)
    expect(await subscribe(admin, "logs")).toEqual({ type: "subscribed", room: "logs" })
  })

  it("execute_tool needs a matching execute permission per tool; a denial is a forbidden tool_executed", async () => {
    const { record, tools } = testTools()
    const server = await start(relaxed, { ...secure, tools })
    const reader = await open(server, (await createKey(server, "reader", ["read"])).key)
    reader.send({ type: "execute_tool", id: "r", toolName: "echo", arguments: { text: "x" } })
    const denied = await reader.next("tool_executed", (m) => m.id === "r")
    expect(denied.error).toEqual({ code: "forbidden", message: expect.stringContaining("execute") })
    expect(denied.result).toBeUndefined()
    const echoer = await open(server, (await createKey(server, "echoer", ["tools:ech*"])).key)
    echoer.send({ type: "execute_tool", id: "e", toolName: "echo", arguments: { text: "allowed" } })
    expect((await echoer.next("tool_executed", (m) => m.id === "e")).result).toMatchObject({ content: [{ text: "allowed" }] })
    echoer.send({ type: "execute_tool", id: "s", toolName: "slow", arguments: {} })
    expect((await echoer.next("tool_executed", (m) => m.id === "s")).error.code).toBe("forbidden")
    expect(record.slowStarted).toBe(0)
  })

  it("manage_api_key: admin creates (the key shown once), lists and revokes; a read key is forbidden", async () => {
    const server = await start(relaxed, secure)
    const admin = await open(server, ADMIN)
    admin.send({ type: "manage_api_key", id: "c", action: "create", name: "made-over-ws", permissions: ["read"] })
    const created = await admin.next("api_key", (m) => m.id === "c")
    expect(created).toMatchObject({ action: "create", result: { key: expect.stringMatching(/^mcp_/), record: { name: "made-over-ws", permissions: ["read"] } } })
    const { key, record } = created.result
    // the new key works
    const made = await open(server, key)
    expect(await subscribe(made, "alerts")).toEqual({ type: "subscribed", room: "alerts" })
    admin.send({ type: "manage_api_key", id: "l", action: "list" })
    const listed = await admin.next("api_key", (m) => m.id === "l")
    expect(listed.result.map((k: any) => k.id)).toContain(record.id)
    expect(JSON.stringify(listed.result)).not.toContain(key)
    admin.send({ type: "manage_api_key", id: "v", action: "revoke", keyId: record.id })
    expect((await admin.next("api_key", (m) => m.id === "v")).result).toMatchObject({ id: record.id, revokedAt: expect.any(String) })
    await expect(connect(server, { headers: { authorization: `Bearer ${key}` } })).rejects.toThrow("401")
    admin.send({ type: "manage_api_key", id: "n", action: "revoke", keyId: "key_nonexistent" })
    expect(await admin.next("error")).toMatchObject({ code: "not_found", id: "n" })
    admin.send({ type: "manage_api_key", id: "m", action: "create", name: "no-permissions" })
    expect(await admin.next("error")).toMatchObject({ code: "invalid_message", id: "m" })
    // the revoked key's open connection is closed at its next message
    made.send({ type: "subscribe", room: "logs" })
    expect((await within(made.closed, "the close of the revoked key's connection")).code).toBe(4401)
    const reader = await open(server, (await createKey(server, "reader", ["read"])).key)
    reader.send({ type: "manage_api_key", id: "f", action: "create", name: "escalate", permissions: ["*"] })
    expect(await reader.next("error")).toMatchObject({ code: "forbidden", id: "f" })
    expect(reader.received.some((m) => m.type === "api_key")).toBe(false)
  })

  it("keys created over /ws are audited like those created over POST /config", async () => {
    const server = await start(relaxed, secure)
    const admin = await open(server, ADMIN)
    admin.send({ type: "manage_api_key", id: 1, action: "create", name: "audited", permissions: ["read"] })
    const { record } = (await admin.next("api_key")).result
    // a key made over HTTP afterwards: once it is in the trail, the earlier one would be too
    const viaHttp = await createKey(server, "audited-http", ["read"])
    let audit = ""
    expect(await eventually(async () => (audit = (await getText(server, "/api/audit", ADMIN)).text).includes(viaHttp.id))).toBe(true)
    expect(audit).toContain(record.id)
  })

  it("a key revoked while its connection is open can no longer run tools there", async () => {
    const { tools } = testTools()
    const server = await start(relaxed, { secure: true, tools })
    const { key, id } = await createKey(server, "revoked-later", ["read", "execute"])
    const client = await open(server, key)
    const admin = await open(server, ADMIN)
    admin.send({ type: "manage_api_key", id: "v", action: "revoke", keyId: id })
    await admin.next("api_key")
    client.send({ type: "execute_tool", id: 1, toolName: "echo", arguments: { text: "after revocation" } })
    const outcome = await Promise.race([client.next("tool_executed"), client.closed])
    expect(outcome).not.toMatchObject({ type: "tool_executed", result: expect.anything() })
  })
})

describe("the guards of the upgrade", () => {
  it("a foreign Origin gets 403; an allowed one connects", async () => {
    const server = await start({ security: { allowedOrigins: ["http://good.example"] } })
    await expect(connect(server, { headers: { origin: "http://evil.example" } })).rejects.toThrow("Unexpected server response: 403")
    const client = await connect(server, { headers: { origin: "http://good.example" } })
    expect(await client.next("welcome")).toMatchObject({ type: "welcome" })
  })

  it("a blocked address is refused with 403", async () => {
    const server = await start({ security: { blockedIps: ["127.0.0.0/8"] } })
    await expect(connect(server)).rejects.toThrow("Unexpected server response: 403")
  })

  it("upgrades count against the rate limit: past it, 429", async () => {
    const server = await start({ security: { maxRequestsPerMinute: 2 } })
    await open(server)
    await open(server)
    await expect(connect(server)).rejects.toThrow("Unexpected server response: 429")
  })
})

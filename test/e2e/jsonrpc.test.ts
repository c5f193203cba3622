/** POST /api/mcp/jsonrpc exactly as a user would send it with curl. */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { builtInTools } from "../support/builtInTools.ts"
import { fileTools, http, type RunningServer, startServer } from "./harness.ts"

let server: RunningServer
const rpc = (body: unknown) => http(`${server.url}/api/mcp/jsonrpc`, { body })
const call = (name: string, args: Record<string, unknown>, id: number | string = 1) =>
  rpc({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } })

beforeAll(async () => {
  server = await startServer()
})
afterAll(() => server?.close())

describe("JSON-RPC methods", () => {
  it("tools/list returns the file tools, each with an object inputSchema", async () => {
    const reply = await rpc({ jsonrpc: "2.0", id: 1, method: "tools/list" })
    expect(reply.status).toBe(200)
    expect(reply.contentType).toContain("application/json")
    expect(reply.json).toMatchObject({ jsonrpc: "2.0", id: 1 })
    const tools: Array<any> = reply.json.result.tools
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(fileTools))
    // the one place that pins the full list: update it when a built-in tool family is added
    expect(tools.map((t) => t.name).sort()).toEqual([...builtInTools].sort())
    for (const tool of tools) {
      expect(tool.description).toEqual(expect.any(String))
      expect(tool.inputSchema).toMatchObject({ type: "object", properties: expect.any(Object) })
    }
    expect(tools.find((t) => t.name === "read_file").inputSchema.required).toEqual(["path"])
  })

  it("tools/call list_directory lists the files of the working directory", async () => {
    fs.mkdirSync(path.join(server.workingDir, "listing/sub"), { recursive: true })
    fs.writeFileSync(path.join(server.workingDir, "listing/one.txt"), "12345")
    fs.writeFileSync(path.join(server.workingDir, "listing/sub/deep.txt"), "x")
    fs.writeFileSync(path.join(server.workingDir, "listing/.hidden"), "h")
    const reply = await call("list_directory", { path: "listing", recursive: false })
    expect(reply.status).toBe(200)
    const result = reply.json.result
    expect(result.isError).toBe(false)
    expect(result.structuredContent).toMatchObject({ path: "listing", count: 2, truncated: false })
    expect(result.structuredContent.entries).toEqual([
      expect.objectContaining({ name: "one.txt", path: "listing/one.txt", type: "file", size: 5 }),
      expect.objectContaining({ name: "sub", path: "listing/sub", type: "directory" })
    ])
    expect(result.content[0].type).toBe("text")
    expect(result.content[0].text).toContain("listing/one.txt")
    expect(result.content[0].text).not.toContain("deep.txt")
  })

  it("tools/call list_directory with path \".\" and recursive false, as in the README", async () => {
    fs.writeFileSync(path.join(server.workingDir, "top.txt"), "top")
    const reply = await call("list_directory", { path: ".", recursive: false })
    expect(reply.status).toBe(200)
    expect(reply.json.result.structuredContent.path).toBe(".")
    expect(reply.json.result.structuredContent.entries).toContainEqual(expect.objectContaining({ name: "top.txt", type: "file", size: 3 }))
  })

  it("write_file then read_file round-trips, and the file is really on disk", async () => {
    const text = "line one\nline two ✓\n"
    const written = await call("write_file", { path: "notes/round.txt", content: text, createDirs: true })
    expect(written.status).toBe(200)
    expect(written.json.result.isError).toBe(false)
    const bytes = Buffer.byteLength(text)
    expect(written.json.result.structuredContent).toEqual({ path: "notes/round.txt", bytesWritten: bytes, size: bytes, mode: "overwrite", created: true })
    expect(written.json.result.content[0].text).toBe(`Wrote ${bytes} bytes to notes/round.txt (overwrite); it now has ${bytes} bytes.`)
    expect(fs.readFileSync(path.join(server.workingDir, "notes/round.txt"), "utf8")).toBe(text)

    const read = await call("read_file", { path: "notes/round.txt" })
    expect(read.status).toBe(200)
    expect(read.json.result).toMatchObject({ isError: false, content: [{ type: "text", text }] })
    expect(read.json.result.structuredContent).toMatchObject({ path: "notes/round.txt", size: bytes, bytesRead: bytes, encoding: "utf8" })
  })

  it("ping answers an empty object", async () => {
    const reply = await rpc({ jsonrpc: "2.0", id: 7, method: "ping" })
    expect(reply.status).toBe(200)
    expect(reply.json).toEqual({ jsonrpc: "2.0", id: 7, result: {} })
  })

  it.each([["string id", "req-abc"], ["number id", 42], ["zero id", 0]])("echoes a %s", async (_label, id) => {
    const reply = await rpc({ jsonrpc: "2.0", id, method: "ping" })
    expect(reply.status).toBe(200)
    expect(reply.json).toEqual({ jsonrpc: "2.0", id, result: {} })
  })
})

describe("mcp/stats", () => {
  let fresh: RunningServer
  beforeAll(async () => {
    fresh = await startServer()
  })
  afterAll(() => fresh?.close())

  it("counts calls and errors per tool and reports uptime", async () => {
    const send = (body: unknown) => http(`${fresh.url}/api/mcp/jsonrpc`, { body })
    const toolCall = (name: string, args: unknown) => send({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } })
    fs.writeFileSync(path.join(fresh.workingDir, "a.txt"), "a")
    await toolCall("read_file", { path: "a.txt" })
    await toolCall("read_file", { path: "missing.txt" }) // fails while running
    await toolCall("read_file", { path: 5 }) // invalid arguments also count as a failed call
    await toolCall("list_directory", {})
    const reply = await send({ jsonrpc: "2.0", id: "s", method: "mcp/stats" })
    expect(reply.status).toBe(200)
    const stats = reply.json.result
    expect(stats.uptimeSeconds).toEqual(expect.any(Number))
    expect(stats.uptimeSeconds).toBeGreaterThanOrEqual(0)
    expect(Date.parse(stats.startedAt)).not.toBeNaN()
    expect(stats.toolCount).toBe(builtInTools.length)
    expect(stats.totals).toEqual({ calls: 4, errors: 2 })
    expect(stats.tools.read_file).toMatchObject({ calls: 3, errors: 2 })
    expect(stats.tools.list_directory).toMatchObject({ calls: 1, errors: 0 })
    expect(stats.tools.write_file).toBeUndefined()
  })
})

describe("malformed requests", () => {
  it("invalid JSON → 400, -32700, id null", async () => {
    const reply = await rpc("{\"jsonrpc\": \"2.0\", \"method\": ")
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } })
    expect(reply.json.error.message).toMatch(/^Parse error: /)
  })

  it("empty body → 400, -32700", async () => {
    const reply = await rpc("")
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32700 } })
  })

  it("an object that is not a request → 400, -32600", async () => {
    const reply = await rpc({ foo: 1 })
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32600 } })
    expect(reply.json.error.message).toContain("jsonrpc")
  })

  it("jsonrpc \"1.0\" → 400, -32600, id kept", async () => {
    const reply = await rpc({ jsonrpc: "1.0", id: 3, method: "ping" })
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: 3, error: { code: -32600 } })
    expect(reply.json.error.message).toContain("2.0")
  })

  it("a method that is not a string → 400, -32600 naming method", async () => {
    const reply = await rpc({ jsonrpc: "2.0", id: 4, method: 5 })
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: 4, error: { code: -32600 } })
    expect(reply.json.error.message).toContain("method")
  })

  it("unknown method → 404, -32601 naming it", async () => {
    const reply = await rpc({ jsonrpc: "2.0", id: "m", method: "sampling/createMessage" })
    expect(reply.status).toBe(404)
    expect(reply.json).toMatchObject({ jsonrpc: "2.0", id: "m", error: { code: -32601 } })
    expect(reply.json.error.message).toContain("\"sampling/createMessage\"")
  })

  it("tools/call without name → 400, -32602 naming name", async () => {
    const reply = await rpc({ jsonrpc: "2.0", id: 5, method: "tools/call", params: { arguments: {} } })
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: 5, error: { code: -32602 } })
    expect(reply.json.error.message).toContain("name")
  })

  it("unknown tool → 400, -32602 naming the tool", async () => {
    const reply = await call("delete_everything", {}, 6)
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: 6, error: { code: -32602, data: { tool: "delete_everything" } } })
    expect(reply.json.error.message).toContain("\"delete_everything\"")
  })

  it("an argument of the wrong type → -32602 naming the field, with data.problems", async () => {
    const reply = await call("read_file", { path: 5 }, 8)
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: 8, error: { code: -32602, data: { tool: "read_file" } } })
    expect(reply.json.error.message).toContain("path")
    expect(reply.json.error.data.problems).toEqual([{ path: "path", message: expect.stringContaining("string") }])
  })

  it("an unknown argument → -32602 naming the key, with data.problems", async () => {
    const reply = await call("read_file", { path: "a.txt", bogus: true }, 9)
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe(-32602)
    expect(reply.json.error.message).toContain("bogus")
    expect(reply.json.error.data.problems).toContainEqual(expect.objectContaining({ path: "bogus" }))
  })
})

describe("tool failures are results, not protocol errors", () => {
  it("reading a missing file → 200, isError, message names the file", async () => {
    const reply = await call("read_file", { path: "no/such/file.txt" })
    expect(reply.status).toBe(200)
    expect(reply.json.result.isError).toBe(true)
    expect(reply.json.result.content[0].text).toBe("no/such/file.txt does not exist")
  })

  it("a path escaping the working directory → 200, isError, refused", async () => {
    const reply = await call("read_file", { path: "../../etc/passwd" })
    expect(reply.status).toBe(200)
    expect(reply.json.result.isError).toBe(true)
    expect(reply.json.result.content[0].text).toContain("refused")
    expect(reply.json.result.content[0].text).toContain("outside the working directory")
    expect(reply.json.result.content[0].text).not.toContain("root:")
  })
})

describe("batches and notifications", () => {
  it("a mixed batch gets one reply per request with an id, ids matching", async () => {
    const reply = await rpc([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", id: "two", method: "nope" },
      { jsonrpc: "2.0", method: "ping" },
      { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "read_file", arguments: { path: "absent" } } },
      { jsonrpc: "2.0", id: 4, method: "tools/list" }
    ])
    expect(reply.status).toBe(200)
    expect(Array.isArray(reply.json)).toBe(true)
    expect(reply.json.map((r: any) => r.id)).toEqual([1, "two", 3, 4])
    expect(reply.json[0]).toEqual({ jsonrpc: "2.0", id: 1, result: {} })
    expect(reply.json[1].error.code).toBe(-32601)
    expect(reply.json[2].result.isError).toBe(true)
    expect(reply.json[3].result.tools.map((t: any) => t.name)).toEqual(expect.arrayContaining(fileTools))
  })

  it("an invalid member of a batch gets an error with id null", async () => {
    const reply = await rpc([{ jsonrpc: "2.0", id: 1, method: "ping" }, { x: 1 }])
    expect(reply.status).toBe(200)
    expect(reply.json).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }, expect.objectContaining({ id: null, error: expect.objectContaining({ code: -32600 }) })])
  })

  it("a single notification → 204, no body", async () => {
    const reply = await rpc({ jsonrpc: "2.0", method: "ping" })
    expect(reply.status).toBe(204)
    expect(reply.text).toBe("")
  })

  it("a notification still runs: write_file without id writes the file", async () => {
    const reply = await rpc({ jsonrpc: "2.0", method: "tools/call", params: { name: "write_file", arguments: { path: "notified.txt", content: "n" } } })
    expect(reply.status).toBe(204)
    expect(fs.readFileSync(path.join(server.workingDir, "notified.txt"), "utf8")).toBe("n")
  })

  it("a batch of only notifications → 204", async () => {
    const reply = await rpc([{ jsonrpc: "2.0", method: "ping" }, { jsonrpc: "2.0", method: "unknown/method" }])
    expect(reply.status).toBe(204)
    expect(reply.text).toBe("")
  })

  it("an empty batch → 400, -32600", async () => {
    const reply = await rpc([])
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: null, error: { code: -32600 } })
    expect(reply.json.error.message).toContain("empty batch")
  })

  it("a batch over 100 requests → 400, -32600", async () => {
    const batch = Array.from({ length: 101 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "ping" }))
    const reply = await rpc(batch)
    expect(reply.status).toBe(400)
    expect(reply.json).toMatchObject({ id: null, error: { code: -32600 } })
    expect(reply.json.error.message).toContain("at most 100")
  })

  it("a batch of exactly 100 requests is served", async () => {
    const batch = Array.from({ length: 100 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "ping" }))
    const reply = await rpc(batch)
    expect(reply.status).toBe(200)
    expect(reply.json.map((r: any) => r.id)).toEqual(batch.map((r) => r.id))
  })
})

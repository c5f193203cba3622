/**
 * Upstream routing against MCP servers nobody here wrote: the official server-filesystem (stdio) and
 * server-everything (stdio and Streamable HTTP). Listing with prefixes and filters, calls routed with their
 * results intact (compared with the same call made directly), and permissions, metrics and audit applied.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  ADMIN,
  callTool,
  cleanupAfterEach,
  everythingServer,
  httpEverything,
  filesystemServer,
  listed,
  markerDir,
  request,
  secured,
  start,
  stdio,
  toolList,
  waitFor,
  WAIT_MS,
  whenUp
} from "./support.ts"

cleanupAfterEach()

/** The same call made straight to a fresh official server, to compare the routed result with. */
const direct = async (args: Array<string>, name: string, input: Record<string, unknown>) => {
  const client = new Client({ name: "direct", version: "1.0.0" })
  await client.connect(new StdioClientTransport({ command: process.execPath, args, stderr: "ignore" }), { timeout: WAIT_MS })
  try {
    return await client.callTool({ name, arguments: input }, undefined, { timeout: WAIT_MS })
  } finally {
    await client.close()
  }
}

/** What a tools/call result says, without the `isError: false` the router spells out and a server may leave out. */
const essence = (result: any) => ({ content: result.content, structuredContent: result.structuredContent, isError: result.isError === true })

describe("server-filesystem over stdio", () => {
  const setUp = async (extra: Record<string, unknown> = {}) => {
    const allowed = markerDir("mcp-upstream-fs-")
    fs.writeFileSync(path.join(allowed, "notes.txt"), "first line\nsecond line\n")
    fs.mkdirSync(path.join(allowed, "sub"))
    const server = await start({ upstreams: [{ name: "filesystem", prefix: "files", transport: stdio(filesystemServer, allowed), ...extra }] })
    return { server, allowed, status: await whenUp(server, "filesystem") }
  }

  it("offers the server's tools under the prefix, filtered by include and exclude", async () => {
    const { server, status } = await setUp({ include: ["read_*", "list_directory"], exclude: ["read_media_file"] })
    const expected = ["files__list_directory", "files__read_file", "files__read_multiple_files", "files__read_text_file"]
    expect([...status.tools].sort()).toEqual(expected)
    const names = await listed(server)
    expect(names.filter((n) => n.startsWith("files__")).sort()).toEqual(expected)
    // the router's own tools are still there, unprefixed
    expect(names).toEqual(expect.arrayContaining(["read_file", "list_directory"]))
    expect(status).toMatchObject({ state: "up", transport: "stdio", required: false, lastError: null, reconnectAttempts: 0 })
    expect(status.latencyMs).toEqual(expect.any(Number))
    expect(status.connectedAt).toEqual(expect.any(String))

    const excluded = await callTool(server, "files__write_file", { path: "x.txt", content: "no" })
    expect(excluded.error?.code).toBe(-32602)
  })

  it("routes calls with their results intact and the upstream's descriptions and annotations", async () => {
    const { server, allowed } = await setUp()
    const file = path.join(allowed, "notes.txt")
    const routed = await callTool(server, "files__read_text_file", { path: file, head: 1 })
    const straight = await direct([filesystemServer, allowed], "read_text_file", { path: file, head: 1 })
    expect(essence(routed.result)).toEqual(essence(straight))
    expect(routed.result.structuredContent).toEqual({ content: "first line" })

    const listing = await callTool(server, "files__list_directory", { path: allowed })
    expect(listing.result.content[0].text.split("\n").sort()).toEqual(["[DIR] sub", "[FILE] notes.txt"])

    const written = await callTool(server, "files__write_file", { path: path.join(allowed, "sub", "new.txt"), content: "routed write" })
    expect(written.result.isError).toBe(false)
    expect(fs.readFileSync(path.join(allowed, "sub", "new.txt"), "utf8")).toBe("routed write")

    const tools = (await toolList(server)).filter((t: any) => t.name === "files__read_text_file")
    expect(tools[0].description).toMatch(/^\[filesystem\] Read the complete contents/)
    expect(tools[0].inputSchema.properties).toHaveProperty("path")
    expect(tools[0].annotations).toMatchObject({ readOnlyHint: true, openWorldHint: false })
  })

  it("passes the upstream's own tool error through as an isError result", async () => {
    const { server } = await setUp()
    const outside = await callTool(server, "files__read_text_file", { path: "/etc/hostname" })
    expect(outside.result.isError).toBe(true)
    expect(outside.result.content[0].text).toMatch(/access denied|outside allowed/i)
  })
})

describe("server-everything over stdio", () => {
  const setUp = async () => {
    const server = await start({ upstreams: [{ name: "everything", prefix: "ev", transport: stdio(everythingServer, "stdio") }] })
    await whenUp(server, "everything")
    return server
  }

  it("routes text and structured results unchanged", async () => {
    const server = await setUp()
    const names = await listed(server)
    expect(names).toEqual(expect.arrayContaining(["ev__echo", "ev__get-sum", "ev__get-structured-content", "ev__get-tiny-image"]))
    const cases: Array<[string, Record<string, unknown>]> = [
      ["echo", { message: "héllo ✓ \"quoted\"\nnext line" }],
      ["get-sum", { a: 2, b: 40 }],
      ["get-structured-content", { location: "Chicago" }],
      ["get-annotated-message", { messageType: "error", includeImage: false }]
    ]
    for (const [tool, input] of cases) {
      const routed = await callTool(server, `ev__${tool}`, input)
      const straight = await direct([everythingServer, "stdio"], tool, input)
      expect(essence(routed.result), tool).toEqual(essence(straight))
    }
  })
  it("keeps image data and resource blobs as base64", async () => {
    const server = await setUp()
    const routed = await callTool(server, "ev__get-tiny-image")
    const straight = await direct([everythingServer, "stdio"], "get-tiny-image", {})
    expect(essence(routed.result)).toEqual(essence(straight))
    const blob = (await callTool(server, "ev__get-resource-reference", { resourceType: "Blob", resourceId: 2 })).result.content[1]
    expect(blob.resource.blob).toEqual(expect.any(String))
    expect(Buffer.from(blob.resource.blob, "base64").toString()).toMatch(/^Resource 2: This is a base64 blob/)
  })
})

describe("server-everything over Streamable HTTP", () => {
  it("lists and calls the tools of an HTTP upstream", async () => {
    const url = await httpEverything()

    const server = await start({ upstreams: [{ name: "remote", transport: { type: "http", url } }] })
    const status = await whenUp(server, "remote")
    expect(status).toMatchObject({ transport: "http", lastError: null })
    expect(status.tools).toEqual(expect.arrayContaining(["remote__echo", "remote__get-sum"]))
    const echoed = await callTool(server, "remote__echo", { message: "over http" })
    expect(echoed.result).toMatchObject({ content: [{ type: "text", text: "Echo: over http" }], isError: false })
    const sum = await callTool(server, "remote__get-sum", { a: 1, b: 2 })
    expect(sum.result.content[0].text).toContain("3")
  })
})

describe("permissions, metrics and audit", () => {
  it("apply to upstream tools like to the router's own", async () => {
    const server = await start(secured({ upstreams: [{ name: "ev", transport: stdio(everythingServer, "stdio") }] }))
    await whenUp(server, "ev", ADMIN)
    const created = await request(`${server.url}/config`, {
      key: ADMIN,
      body: { "security.createApiKey": { name: "echo-only", permissions: ["tools:ev__echo"] } }
    })
    expect(created.status).toBe(201)
    const key = created.json.key as string

    expect(await listed(server, key)).toEqual(["ev__echo"])
    const allowed = await callTool(server, "ev__echo", { message: "allowed" }, key)
    expect(allowed.result.content[0].text).toBe("Echo: allowed")
    const denied = await callTool(server, "ev__get-sum", { a: 1, b: 1 }, key)
    expect(denied.error?.code).toBe(-32003)
    expect(denied.error?.message).toContain("ev__get-sum")

    const stats = (await request(`${server.url}/api/stats`, { key: ADMIN })).json
    expect(stats.tools["ev__echo"]).toMatchObject({ calls: 1, errors: 0 })
    expect(stats.tools["ev__get-sum"]).toMatchObject({ calls: 1, denied: 1 })
    const prometheus = (await request(`${server.url}/metrics/prometheus`, { key: ADMIN })).text
    expect(prometheus).toMatch(/mcp_router_upstream_calls_total\{[^}]*upstream="ev"[^}]*\} 1/)
    expect(prometheus).toMatch(/mcp_router_upstream_up\{[^}]*upstream="ev"[^}]*\} 1/)

    const audit = await waitFor("the audit entries", async () => {
      const entries = (await request(`${server.url}/api/audit?action=tool.call`, { key: ADMIN })).json.entries as Array<any>
      return entries.length >= 2 ? entries : undefined
    })
    expect(audit).toEqual(expect.arrayContaining([
      expect.objectContaining({ target: "ev__echo", outcome: "ok", actor: created.json.id }),
      expect.objectContaining({ target: "ev__get-sum", outcome: "denied", actor: created.json.id })
    ]))
  })
})

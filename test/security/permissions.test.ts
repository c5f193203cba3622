/** Who may use what: the endpoint table, per-tool permissions on both JSON-RPC endpoints, and development mode. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { ADMIN, call, cleanupAfterEach, createKey, jsonRpc, type RunningServer, start } from "./support.ts"

cleanupAfterEach()

const clients: Array<Client> = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

const connect = async (server: RunningServer, key: string | undefined) => {
  const client = new Client({ name: "security-test", version: "1.0.0" })
  const headers: Record<string, string> = key === undefined ? {} : { authorization: `Bearer ${key}` }
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } })
  clients.push(client)
  await client.connect(transport, { timeout: 10_000 })
  return client
}

const get = (server: RunningServer, route: string, key?: string) => call(`${server.url}${route}`, { key })
const toolNames = (reply: { json: any }) => (reply.json.result.tools as Array<{ name: string }>).map((tool) => tool.name).sort()

describe("endpoint table", () => {
  it("/health is open without a key, with a minimal body for anonymous callers", async () => {
    const server = await start()
    const anonymous = await get(server, "/health")
    expect(anonymous.status).toBe(200)
    expect(anonymous.json).toEqual({ status: "ok" })
    expect(anonymous.headers.get("ratelimit-limit")).toBeNull()
    const { key } = await createKey(server, { permissions: ["read"] })
    const reader = await get(server, "/health", key)
    expect(reader.status).toBe(200)
    expect(reader.json).toMatchObject({ status: "ok", name: "mcp-router-pro", tools: { count: expect.any(Number) } })
    // a wrong key on /health is served as anonymous, not refused
    const wrong = await get(server, "/health", `mcp_${"B".repeat(43)}`)
    expect(wrong.status).toBe(200)
    expect(wrong.json).toEqual({ status: "ok" })
  })

  it("read routes need read: refused to an execute-only key, served to read and admin keys", async () => {
    const server = await start()
    const executor = await createKey(server, { name: "runner", permissions: ["execute"] })
    const reader = await createKey(server, { permissions: ["read"] })
    const admin = await createKey(server, { permissions: ["admin"] })
    for (const route of ["/api/tools", "/logs", "/api/security/stats"]) {
      const denied = await get(server, route, executor.key)
      expect(denied.status, route).toBe(403)
      expect(denied.json).toEqual({ error: { code: "forbidden", message: 'The API key "runner" lacks the permission this needs: read' } })
      expect((await get(server, route, reader.key)).status, route).toBe(200)
      expect((await get(server, route, admin.key)).status, route).toBe(200)
    }
  })

  it("GET /config, POST /config and /api/audit need admin", async () => {
    const server = await start()
    const reader = await createKey(server, { name: "reader", permissions: ["read", "execute"] })
    const admin = await createKey(server, { permissions: ["admin"] })
    for (const [method, route] of [["GET", "/config"], ["POST", "/config"], ["GET", "/api/audit"]] as const) {
      const body = method === "POST" ? { "security.listApiKeys": {} } : undefined
      const denied = await call(`${server.url}${route}`, { method, key: reader.key, body })
      expect(denied.status, `${method} ${route}`).toBe(403)
      expect(denied.json.error.message).toContain("admin")
      expect((await call(`${server.url}${route}`, { method, key: admin.key, body })).status, `${method} ${route}`).toBe(200)
      expect((await call(`${server.url}${route}`, { method, key: ADMIN, body })).status, `${method} ${route}`).toBe(200)
    }
    // a read key cannot mint itself an admin key
    const mint = await call(`${server.url}/config`, { key: reader.key, body: { "security.createApiKey": { name: "x", permissions: ["*"] } } })
    expect(mint.status).toBe(403)
    expect(mint.json.key).toBeUndefined()
  })
})

describe("per-tool permissions", () => {
  it('a ["tools:read_*"] key calls read_file but not write_file over /api/mcp/jsonrpc', async () => {
    const server = await start()
    fs.writeFileSync(path.join(server.workingDir, "a.txt"), "alpha")
    const { key } = await createKey(server, { name: "narrow", permissions: ["tools:read_*"] })
    const read = await jsonRpc(server, key, "tools/call", { name: "read_file", arguments: { path: "a.txt" } })
    expect(read.status).toBe(200)
    expect(read.json.result.isError).toBe(false)
    expect(JSON.stringify(read.json.result.content)).toContain("alpha")

    const write = await jsonRpc(server, key, "tools/call", { name: "write_file", arguments: { path: "b.txt", content: "x" } })
    expect(write.status).toBe(403)
    expect(write.json).toEqual({ jsonrpc: "2.0", id: 1, error: { code: -32003, message: expect.stringContaining("write_file") } })
    expect(fs.existsSync(path.join(server.workingDir, "b.txt"))).toBe(false)

    const listed = toolNames(await jsonRpc(server, key, "tools/list"))
    expect(listed).toContain("read_file")
    expect(listed).not.toContain("write_file")
    for (const name of listed) expect(name).toMatch(/^read_/)
    // the narrow key cannot read the tool catalogue of /api/tools either
    expect((await get(server, "/api/tools", key)).status).toBe(403)
  })

  it('over /mcp (official SDK) a ["tools:read_*"] key sees only read_ tools and is refused write_file', async () => {
    const server = await start()
    fs.writeFileSync(path.join(server.workingDir, "a.txt"), "alpha")
    const { key } = await createKey(server, { permissions: ["tools:read_*"] })
    const client = await connect(server, key)
    const names = (await client.listTools()).tools.map((tool) => tool.name)
    expect(names).toContain("read_file")
    expect(names).not.toContain("write_file")
    for (const name of names) expect(name).toMatch(/^read_/)
    const read: any = await client.callTool({ name: "read_file", arguments: { path: "a.txt" } })
    expect(read.isError).toBe(false)
    // a tool the key may not call is hidden from the list, and a call of it is refused by the Router
    const refused: any = await client.callTool({ name: "write_file", arguments: { path: "b.txt", content: "x" } })
    expect(refused.isError).toBe(true)
    expect(refused.content[0].text).toContain("lacks the permission this needs: execute (or tools:<glob> matching write_file)")
    expect(fs.existsSync(path.join(server.workingDir, "b.txt"))).toBe(false)
  })

  it("audits a refused tool call over /mcp as denied, like over /api/mcp/jsonrpc", async () => {
    const server = await start()
    const { key } = await createKey(server, { permissions: ["tools:read_*"] })
    const client = await connect(server, key)
    expect(((await client.callTool({ name: "write_file", arguments: { path: "b.txt", content: "x" } })) as any).isError).toBe(true)
    const audit = await call(`${server.url}/api/audit?action=tool.call&target=write_file`, { key: ADMIN })
    expect(audit.status).toBe(200)
    expect(audit.json.entries).toContainEqual(expect.objectContaining({ outcome: "denied", details: expect.objectContaining({ transport: "mcp" }) }))
  })

  it("audits a refused tool call over /api/mcp/jsonrpc as denied", async () => {
    const server = await start()
    const { key, id } = await createKey(server, { permissions: ["tools:read_*"] })
    expect((await jsonRpc(server, key, "tools/call", { name: "write_file", arguments: { path: "b.txt", content: "x" } })).status).toBe(403)
    const audit = await call(`${server.url}/api/audit?action=tool.call&target=write_file`, { key: ADMIN })
    expect(audit.json.entries).toContainEqual(expect.objectContaining({ actor: id, outcome: "denied", details: expect.objectContaining({ transport: "jsonrpc" }) }))
  })

  it("execute and * call every tool; read alone calls none", async () => {
    const server = await start()
    const all = toolNames(await jsonRpc(server, ADMIN, "tools/list"))
    expect(all).toEqual(expect.arrayContaining(["read_file", "write_file", "list_directory"]))
    for (const [name, permissions] of [["exec", ["execute"]], ["star", ["*"]]] as const) {
      const { key } = await createKey(server, { permissions })
      expect(toolNames(await jsonRpc(server, key, "tools/list"))).toEqual(all)
      const write = await jsonRpc(server, key, "tools/call", { name: "write_file", arguments: { path: `${name}.txt`, content: name } })
      expect(write.status).toBe(200)
      expect(write.json.result.isError).toBe(false)
      expect(fs.readFileSync(path.join(server.workingDir, `${name}.txt`), "utf8")).toBe(name)
    }
    const reader = await createKey(server, { name: "reader", permissions: ["read"] })
    expect(toolNames(await jsonRpc(server, reader.key, "tools/list"))).toEqual([])
    const refused = await jsonRpc(server, reader.key, "tools/call", { name: "read_file", arguments: { path: "exec.txt" } })
    expect(refused.status).toBe(403)
    expect(refused.json.error.code).toBe(-32003)
  })
})

describe("open MCP sessions", () => {
  it("a key revoked while its session is open is refused on the session's next request", async () => {
    const server = await start()
    const { key, id } = await createKey(server, { permissions: ["execute"] })
    const client = await connect(server, key)
    expect((await client.listTools()).tools.length).toBeGreaterThan(0)
    expect((await call(`${server.url}/config`, { key: ADMIN, body: { "security.revokeApiKey": { id } } })).status).toBe(200)
    await expect(client.listTools()).rejects.toMatchObject({ code: 401, message: expect.stringContaining("revoked") })
  })

  it("another key using a session's id gets 404: sessions belong to the key that opened them", async () => {
    const server = await start()
    const owner = await createKey(server, { permissions: ["execute"] })
    const narrow = await createKey(server, { permissions: ["tools:read_*"] })
    const client = await connect(server, owner.key)
    const sessionId = (client.transport as StreamableHTTPClientTransport).sessionId!
    expect(sessionId).toEqual(expect.any(String))
    const reply = await call(`${server.url}/mcp`, {
      key: narrow.key,
      headers: { accept: "application/json, text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": (client.transport as StreamableHTTPClientTransport).protocolVersion! },
      body: { jsonrpc: "2.0", id: 7, method: "tools/list" }
    })
    expect(reply.status, reply.text).toBe(404)
    expect(reply.text).not.toContain("write_file")
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("write_file")
  })
})

describe("development mode (requireApiKey=false)", () => {
  it("lets anonymous callers do everything", async () => {
    const server = await start({}, false)
    expect((await get(server, "/health")).json).toMatchObject({ status: "ok", name: "mcp-router-pro" })
    expect((await get(server, "/api/tools")).status).toBe(200)
    expect((await get(server, "/config")).status).toBe(200)
    expect((await get(server, "/api/audit")).status).toBe(200)
    const write = await jsonRpc(server, undefined, "tools/call", { name: "write_file", arguments: { path: "dev.txt", content: "dev" } })
    expect(write.status).toBe(200)
    expect(fs.readFileSync(path.join(server.workingDir, "dev.txt"), "utf8")).toBe("dev")
    const client = await connect(server, undefined)
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("write_file")
  })
})

/** Address blocking, auth-failure blocking, X-Forwarded-For, CORS/Origin/Host, and the official SDK client with a key. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterEach, describe, expect, it } from "vitest"
import { parseAddressRange } from "../../src/net/addressRange.ts"
import { clientAddress, listContains, makeAddressList } from "../../src/security/clientAddress.ts"
import { ADMIN, call, cleanupAfterEach, createKey, jsonRpc, mcpInitialize, rawRequest, type RunningServer, start } from "./support.ts"

cleanupAfterEach()

const clients: Array<Client> = []
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()))
})

const port = (server: RunningServer) => new URL(server.url).port
const blockedBody = (ip: string) => ({ error: { code: "address_blocked", message: `Requests from ${ip} are refused: the address is in security.blockedIps` } })

const expectBlockedEverywhere = async (url: string, ip: string) => {
  for (const route of ["/health", "/api/tools", "/config", "/nowhere"]) {
    const reply = await call(`${url}${route}`, { key: ADMIN })
    expect(reply.status, route).toBe(403)
    expect(reply.json, route).toEqual(blockedBody(ip))
  }
  const rpcReply = await call(`${url}/api/mcp/jsonrpc`, { key: ADMIN, body: { jsonrpc: "2.0", id: 1, method: "ping" } })
  expect(rpcReply.status).toBe(403)
  expect(rpcReply.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32003, message: expect.stringContaining(ip) } })
}

describe("security.blockedIps", () => {
  it("refuses a blocked address on every route, /health included", async () => {
    const server = await start({ security: { blockedIps: ["127.0.0.1"] } })
    await expectBlockedEverywhere(server.url, "127.0.0.1")
    expect((await mcpInitialize(server, { key: ADMIN })).json.error.code).toBe(-32003)
  })

  it("matches CIDR ranges", async () => {
    const server = await start({ security: { blockedIps: ["127.0.0.0/8"] } })
    await expectBlockedEverywhere(server.url, "127.0.0.1")
  })

  it("matches IPv6 addresses on a server bound to ::1", async () => {
    const blocked = await start({ server: { host: "::1" }, security: { blockedIps: ["::1"] } })
    await expectBlockedEverywhere(`http://[::1]:${port(blocked)}`, "::1")
    const ranged = await start({ server: { host: "::1" }, security: { blockedIps: ["::/127"] } })
    expect((await call(`http://[::1]:${port(ranged)}/health`)).status).toBe(403)
    const other = await start({ server: { host: "::1" }, security: { blockedIps: ["127.0.0.1", "2001:db8::/32"] } })
    const reply = await call(`http://[::1]:${port(other)}/api/tools`, { key: ADMIN })
    expect(reply.status).toBe(200)
  })

  it("matches IPv6 and IPv4-mapped addresses (unit)", () => {
    // entries the config Schema would refuse are never added
    const list = makeAddressList(["127.0.0.1", "10.0.0.0/8", "2001:db8::/32", "::1", "bogus", "10.0.0.0/x", "10.0.0.0/33"])
    for (const bad of ["bogus", "10.0.0.0/x", "10.0.0.0/33", "::/129", "1.2.3.4/8/9", ""]) expect(parseAddressRange(bad)).toBeUndefined()
    expect(parseAddressRange("2001:db8::/32")).toEqual({ address: "2001:db8::", family: "ipv6", bits: 32 })
    expect(listContains(list, "::ffff:127.0.0.1")).toBe(true)
    expect(listContains(list, "::ffff:10.20.30.40")).toBe(true)
    expect(listContains(list, "2001:db8:1::5")).toBe(true)
    expect(listContains(list, "::1")).toBe(true)
    expect(listContains(list, "2001:db9::1")).toBe(false)
    expect(listContains(list, "127.0.0.2")).toBe(false)
    expect(listContains(list, "unknown")).toBe(false)
    expect(clientAddress("::ffff:192.0.2.9", undefined, undefined)).toBe("192.0.2.9")
    const trusted = makeAddressList(["::1", "10.0.0.0/8"])
    expect(clientAddress("::1", "2001:db8::7, 10.1.1.1", trusted)).toBe("2001:db8::7")
    expect(clientAddress("::ffff:10.0.0.3", "198.51.100.4", trusted)).toBe("198.51.100.4")
  })

  it("follows runtime updates: another address keeps us served, our own blocks the very next request", async () => {
    const server = await start()
    const other = await call(`${server.url}/config`, { key: ADMIN, body: { "security.blockedIps": ["127.0.0.2"] } })
    expect(other.status).toBe(200)
    expect(other.json.applied).toBe(true)
    expect((await call(`${server.url}/api/tools`, { key: ADMIN })).status).toBe(200)
    const own = await call(`${server.url}/config`, { key: ADMIN, body: { "security.blockedIps": ["127.0.0.1"] } })
    expect(own.status).toBe(200)
    expect((await call(`${server.url}/api/tools`, { key: ADMIN })).status).toBe(403)
    // and there is no way back over HTTP from this address
    const undo = await call(`${server.url}/config`, { key: ADMIN, body: { "security.blockedIps": [] } })
    expect(undo.status).toBe(403)
    expect(undo.json).toEqual(blockedBody("127.0.0.1"))
  })

  it("rejects an invalid address in a runtime update", async () => {
    const server = await start()
    const reply = await call(`${server.url}/config`, { key: ADMIN, body: { "security.blockedIps": ["not-an-ip"] } })
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe("invalid_config")
    expect((await call(`${server.url}/api/tools`, { key: ADMIN })).status).toBe(200)
  })
})

describe("repeated authentication failures", () => {
  const limit = { authFailureLimit: { maxFailures: 3, windowSeconds: 60, blockSeconds: 60 } }

  it("blocks an address after 3 wrong keys, even for a valid key afterwards", async () => {
    const server = await start({ security: limit })
    for (let i = 0; i < 3; i++) {
      expect((await call(`${server.url}/api/tools`, { key: `mcp_wrong${i}${"x".repeat(38)}` })).status).toBe(401)
    }
    const reply = await call(`${server.url}/api/tools`, { key: ADMIN })
    expect(reply.status).toBe(403)
    expect(reply.json.error).toMatchObject({ code: "address_blocked", message: expect.stringContaining("too many failed authentications") })
    expect((await call(`${server.url}/health`)).status).toBe(403)
  })

  it("does not count requests that bring no key", async () => {
    const server = await start({ security: limit })
    for (let i = 0; i < 5; i++) expect((await call(`${server.url}/api/tools`)).status).toBe(401)
    expect((await call(`${server.url}/api/tools`, { key: ADMIN })).status).toBe(200)
  })

  it("behind a trusted proxy, blocks the forwarded client rather than the proxy", async () => {
    const server = await start({ security: { ...limit, trustedProxies: ["127.0.0.1"] } })
    const from = (ip: string) => ({ "x-forwarded-for": ip })
    for (let i = 0; i < 3; i++) expect((await call(`${server.url}/api/tools`, { key: "mcp_wrong", headers: from("198.51.100.7") })).status).toBe(401)
    expect((await call(`${server.url}/api/tools`, { key: ADMIN, headers: from("198.51.100.7") })).status).toBe(403)
    expect((await call(`${server.url}/api/tools`, { key: ADMIN, headers: from("198.51.100.8") })).status).toBe(200)
  })
})

describe("X-Forwarded-For", () => {
  const xff = (value: string) => ({ "x-forwarded-for": value })

  it("is ignored from an untrusted peer", async () => {
    const spoofed = await start({ security: { blockedIps: ["10.9.9.9"] } })
    expect((await call(`${spoofed.url}/api/tools`, { key: ADMIN, headers: xff("10.9.9.9") })).status).toBe(200)
    const own = await start({ security: { blockedIps: ["127.0.0.1"] } })
    const reply = await call(`${own.url}/api/tools`, { key: ADMIN, headers: xff("10.9.9.9") })
    expect(reply.status).toBe(403)
    expect(reply.json).toEqual(blockedBody("127.0.0.1"))
  })

  it("from a trusted proxy gives the client: the right-most address that is not a trusted proxy", async () => {
    const server = await start({ security: { blockedIps: ["10.9.9.9"], trustedProxies: ["127.0.0.1"] } })
    const status = async (value?: string) => (await call(`${server.url}/api/tools`, { key: ADMIN, headers: value === undefined ? {} : xff(value) })).status
    const blocked = await call(`${server.url}/api/tools`, { key: ADMIN, headers: xff("10.9.9.9") })
    expect(blocked.status).toBe(403)
    expect(blocked.json).toEqual(blockedBody("10.9.9.9"))
    expect(await status()).toBe(200)
    expect(await status("10.9.9.9, 127.0.0.1")).toBe(403)
    expect(await status("203.0.113.5, 10.9.9.9")).toBe(403)
    // what the client wrote before the last untrusted hop cannot be believed
    expect(await status("10.9.9.9, 203.0.113.5")).toBe(200)
    expect(await status("garbage, 10.9.9.9")).toBe(403)
  })
})

describe("CORS, Origin and Host", () => {
  const app = "http://app.example"
  const preflight = (server: RunningServer, origin: string) =>
    call(`${server.url}/mcp`, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type, mcp-session-id" }
    })

  it("answers an allowed preflight with 204 and refuses a foreign one", async () => {
    const server = await start({ security: { allowedOrigins: [app] } })
    const ok = await preflight(server, app)
    expect(ok.status).toBe(204)
    expect(ok.headers.get("access-control-allow-origin")).toBe(app)
    const allowHeaders = ok.headers.get("access-control-allow-headers")!.split(/,\s*/)
    expect(allowHeaders).toEqual(expect.arrayContaining(["authorization", "mcp-session-id", "content-type"]))
    expect(ok.headers.get("access-control-allow-methods")).toContain("POST")
    expect(ok.headers.get("vary")).toContain("Origin")
    const evil = await preflight(server, "http://evil.example")
    expect(evil.status).toBe(403)
    expect(evil.headers.get("access-control-allow-origin")).toBeNull()
    expect(evil.json.error.message).toContain("http://evil.example")
  })

  it("marks allowed requests with Access-Control-Allow-Origin and Vary: Origin, and refuses foreign Origins", async () => {
    const server = await start({ security: { allowedOrigins: [app] } })
    const ok = await call(`${server.url}/api/tools`, { key: ADMIN, headers: { origin: app } })
    expect(ok.status).toBe(200)
    expect(ok.headers.get("access-control-allow-origin")).toBe(app)
    expect(ok.headers.get("vary")).toContain("Origin")
    expect(ok.headers.get("access-control-expose-headers")).toContain("mcp-session-id")
    const mcp = await mcpInitialize(server, { key: ADMIN, headers: { origin: app } })
    expect(mcp.status).toBe(200)
    expect(mcp.headers.get("access-control-allow-origin")).toBe(app)
    const foreign = await mcpInitialize(server, { key: ADMIN, headers: { origin: "http://evil.example" } })
    expect(foreign.status).toBe(403)
    expect(foreign.json).toMatchObject({ jsonrpc: "2.0", id: null, error: { code: -32003 } })
    const foreignRest = await call(`${server.url}/api/tools`, { key: ADMIN, headers: { origin: "http://evil.example" } })
    expect(foreignRest.status).toBe(403)
    expect(foreignRest.json.error.code).toBe("origin_refused")
  })

  it('refuses every Origin unless allowed, and "*" must be chosen explicitly', async () => {
    const closed = await start()
    for (const route of ["/api/tools", "/health"]) {
      expect((await call(`${closed.url}${route}`, { key: ADMIN, headers: { origin: app } })).status, route).toBe(403)
    }
    expect((await mcpInitialize(closed, { key: ADMIN, headers: { origin: app } })).status).toBe(403)
    expect((await preflight(closed, app)).status).toBe(403)
    // without an Origin header (not a browser) nothing changes
    expect((await call(`${closed.url}/api/tools`, { key: ADMIN })).status).toBe(200)

    const open = await start({ security: { allowedOrigins: ["*"] } })
    const reply = await call(`${open.url}/api/tools`, { key: ADMIN, headers: { origin: "http://anything.example" } })
    expect(reply.status).toBe(200)
    expect(reply.headers.get("access-control-allow-origin")).toBe("*")
    expect((await mcpInitialize(open, { key: ADMIN, headers: { origin: "http://anything.example" } })).status).toBe(200)
  })

  it("on a loopback bind, answers only to loopback Host names (DNS rebinding)", async () => {
    const server = await start()
    const headers = (host: string) => ({ host, authorization: `Bearer ${ADMIN}` })
    for (const host of ["evil.example", `evil.example:${port(server)}`, "localhost.evil.example", "127.0.0.1.nip.io"]) {
      const reply = await rawRequest(`${server.url}/api/tools`, { headers: headers(host) })
      expect(reply.status, host).toBe(403)
      expect(JSON.parse(reply.text).error, host).toMatchObject({ code: "origin_refused", message: expect.stringContaining("loopback") })
    }
    const mcp = await rawRequest(`${server.url}/mcp`, {
      method: "POST",
      headers: { ...headers("evil.example"), "content-type": "application/json", accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })
    })
    expect(mcp.status).toBe(403)
    for (const host of [`localhost:${port(server)}`, `127.0.0.1:${port(server)}`, "localhost"]) {
      expect((await rawRequest(`${server.url}/api/tools`, { headers: headers(host) })).status, host).toBe(200)
    }
    const v6 = await start({ server: { host: "::1" } })
    expect((await rawRequest(`http://[::1]:${port(v6)}/api/tools`, { headers: headers(`[::1]:${port(v6)}`) })).status).toBe(200)
    expect((await rawRequest(`http://[::1]:${port(v6)}/api/tools`, { headers: headers("evil.example") })).status).toBe(403)
  })
})

describe("official MCP SDK client", () => {
  const connect = async (server: RunningServer, headers: Record<string, string>) => {
    const client = new Client({ name: "security-test", version: "1.0.0" })
    clients.push(client)
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers } }), { timeout: 10_000 })
    return client
  }

  it("works with a Bearer key and fails cleanly without one", async () => {
    const server = await start()
    const { key } = await createKey(server, { permissions: ["execute"] })
    const client = await connect(server, { authorization: `Bearer ${key}` })
    expect((await client.listTools()).tools.map((tool) => tool.name)).toContain("read_file")
    await expect(connect(server, {})).rejects.toMatchObject({ code: 401, message: expect.stringContaining("An API key is required") })
    await expect(connect(server, { authorization: "Bearer mcp_notakey" })).rejects.toMatchObject({ code: 401, message: expect.stringContaining("not valid") })
    // the JSON-RPC endpoint agrees
    expect((await jsonRpc(server, key, "tools/list")).status).toBe(200)
  })
})

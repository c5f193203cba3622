/**
 * Every declared route × method × credential × spelling of its path. Access is decided on the route
 * that matched, so a spelling either reaches the route (and gets that route's rule) or no route (404,
 * after authentication): no spelling reaches a handler its key may not use. POST /config bodies create
 * a key, so a spelling that got through would show in the key count.
 */
import * as http from "node:http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ADMIN, createKey, revokeKey, type RunningServer, start, stop } from "../security/support.ts"

type Credential = "none" | "wrong" | "read" | "tools" | "execute" | "admin" | "revoked"
const credentials: ReadonlyArray<Credential> = ["none", "wrong", "read", "tools", "execute", "admin", "revoked"]
/** ws: a key now, or (without one) in the first message after the upgrade. */
type Need = "public" | "key" | "ws" | "read" | "admin"

/** What each credential may reach, by the need of the route. */
const admitted = (credential: Credential, need: Need): boolean => {
  if (need === "public") return true
  if (need === "ws" && credential === "none") return true
  if (credential === "none" || credential === "wrong" || credential === "revoked") return false
  if (need === "key" || need === "ws") return true
  if (need === "read") return credential === "read" || credential === "admin"
  return credential === "admin"
}

/** The status of the canonical spelling. */
const expected = (credential: Credential, need: Need, okStatus: number): number =>
  admitted(credential, need)
    ? okStatus
    : credential === "none" || credential === "wrong" || credential === "revoked"
    ? 401
    : 403

/** Spellings of a path that the HTTP router might take for it, or not. */
const spellings = (path: string): ReadonlyArray<string> => {
  const name = path.slice(1)
  const encodedEach = [...path].flatMap((char, i) =>
    char === "/" ? [] : [path.slice(0, i) + `%${char.charCodeAt(0).toString(16).padStart(2, "0")}` + path.slice(i + 1)]
  )
  const upper = path.slice(0, 2) + path.slice(2).toUpperCase()
  return [
    path.toUpperCase(),
    upper,
    `/${name[0]!.toUpperCase()}${name.slice(1)}`,
    `/${path}`,
    `//${name.replaceAll("/", "//")}`,
    `${path}/`,
    `${path}//`,
    `/./${name}`,
    `/x/../${name}`,
    `/%2e/${name}`,
    `/%2e%2e/${name}`,
    `${path}%2f`,
    `${path}%00`,
    `${path};x=1`,
    `${path}?a=1&a=2`,
    `${path}#frag`,
    path.replace("/", "/%2F"),
    ...encodedEach,
    // double encoding of the first letter
    `/%25${name.charCodeAt(0).toString(16)}${name.slice(1)}`
  ]
}

interface RouteCase {
  readonly method: string
  readonly path: string
  readonly need: Need
  readonly ok: number
  readonly body?: unknown
  readonly headers?: Record<string, string>
}

let server: RunningServer
const keys: Partial<Record<Credential, string>> = {}

const keyCount = async () => {
  const reply = await request("GET", "/config", ADMIN, undefined, undefined)
  const listed = await request("POST", "/config", ADMIN, { "security.listApiKeys": {} }, undefined)
  expect(reply.status).toBe(200)
  return JSON.parse(listed.text).count as number
}

const request = (
  method: string,
  path: string,
  key: string | undefined,
  body: unknown,
  headers: Record<string, string> | undefined
): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const url = new URL(server.url)
    const payload = body === undefined ? undefined : JSON.stringify(body)
    const req = http.request({
      host: url.hostname,
      port: url.port,
      method,
      // sent as it is: no normalisation by a URL parser
      path,
      headers: {
        ...(payload === undefined ? {} : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        ...(key === undefined ? {} : { authorization: `Bearer ${key}` }),
        ...headers
      },
      agent: false,
      timeout: 10_000
    }, (res) => {
      let text = ""
      res.setEncoding("utf8").on("data", (chunk: string) => (text += chunk)).on("end", () => resolve({ status: res.statusCode!, text }))
    })
    req.on("timeout", () => req.destroy(new Error(`${method} ${path} timed out`)))
    req.on("error", reject)
    req.end(payload)
  })

const mcpHeaders = { accept: "application/json, text/event-stream" }
const initialize = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "matrix", version: "1" } } }

const routes: ReadonlyArray<RouteCase> = [
  { method: "GET", path: "/health", need: "public", ok: 200 },
  { method: "GET", path: "/health/live", need: "public", ok: 200 },
  { method: "GET", path: "/health/ready", need: "public", ok: 200 },
  { method: "GET", path: "/api/tools", need: "read", ok: 200 },
  { method: "GET", path: "/logs", need: "read", ok: 200 },
  { method: "GET", path: "/metrics", need: "read", ok: 200 },
  { method: "GET", path: "/metrics/prometheus", need: "read", ok: 200 },
  { method: "GET", path: "/metrics/history", need: "read", ok: 200 },
  { method: "GET", path: "/api/stats", need: "read", ok: 200 },
  { method: "GET", path: "/api/alerts", need: "read", ok: 200 },
  { method: "GET", path: "/api/upstreams", need: "read", ok: 200 },
  { method: "GET", path: "/api/routes", need: "read", ok: 200 },
  { method: "GET", path: "/api/security/stats", need: "read", ok: 200 },
  { method: "GET", path: "/config", need: "admin", ok: 200 },
  { method: "GET", path: "/api/audit", need: "admin", ok: 200 },
  {
    method: "POST",
    path: "/config",
    need: "admin",
    ok: 201,
    body: { "security.createApiKey": { name: "made-by-matrix", permissions: ["*"] } }
  },
  { method: "POST", path: "/api/mcp/jsonrpc", need: "key", ok: 200, body: { jsonrpc: "2.0", id: 1, method: "ping" } },
  { method: "POST", path: "/mcp", need: "key", ok: 200, body: initialize, headers: mcpHeaders },
  { method: "GET", path: "/ws", need: "ws", ok: 426 },
  { method: "GET", path: "/no/such/route", need: "key", ok: 404 }
]

beforeAll(async () => {
  server = await start({
    // every cell is one request: neither limits nor the address guard may answer for the route
    security: { maxRequestsPerMinute: 1_000_000, maxRequestsPerHour: 1_000_000, adminRequestsPerMinute: 1_000_000, adminRequestsPerHour: 1_000_000, authFailureLimit: { maxFailures: 1_000_000 } },
    mcp: { maxSessions: 100_000, maxSessionsPerKey: 100_000 }
  })
  keys.admin = ADMIN
  keys.read = (await createKey(server, { permissions: ["read"] })).key
  keys.tools = (await createKey(server, { permissions: ["tools:read_*"] })).key
  keys.execute = (await createKey(server, { permissions: ["execute"] })).key
  const revoked = await createKey(server, { permissions: ["*"] })
  expect((await revokeKey(server, revoked.id)).status).toBe(200)
  keys.revoked = revoked.key
  keys.wrong = "mcp_not-a-key-000000000000000000000000000000000"
}, 30_000)

afterAll(async () => {
  if (server !== undefined) await stop(server)
})

describe("the route table", () => {
  it("is what the routes declared, and every route of this matrix is in it", async () => {
    const reply = await request("GET", "/api/routes", ADMIN, undefined, undefined)
    const declared = JSON.parse(reply.text).routes as Array<{ method: string; path: string; access: string }>
    for (const route of routes.filter((r) => r.path !== "/no/such/route")) {
      expect(declared.some((d) => d.path === route.path && (d.method === route.method || d.method === "*")), `${route.method} ${route.path}`).toBe(true)
    }
    expect(declared.find((d) => d.path === "*")?.access).toBe("any key")
  })
})

describe.each(routes)("$method $path", (route) => {
  it.each(credentials)("canonical spelling with credential %s", async (credential) => {
    const reply = await request(route.method, route.path, keys[credential], route.body, route.headers)
    expect(reply.status, reply.text).toBe(expected(credential, route.need, route.ok))
  })

  it("no spelling reaches the handler for a credential the route refuses", async () => {
    const before = route.method === "POST" && route.path === "/config" ? await keyCount() : 0
    const failures: Array<string> = []
    for (const credential of credentials) {
      if (admitted(credential, route.need)) continue
      for (const spelling of [...spellings(route.path), `${server.url}${route.path}`]) {
        const reply = await request(route.method, spelling, keys[credential], route.body, route.headers)
        // refused as this route refuses, or matched no route (which needs a key too)
        const allowed = credential === "read" || credential === "tools" || credential === "execute" ? [400, 403, 404, 405] : [400, 401]
        if (!allowed.includes(reply.status)) failures.push(`${credential} ${route.method} ${spelling} -> ${reply.status}`)
      }
    }
    expect(failures).toEqual([])
    if (route.method === "POST" && route.path === "/config") expect(await keyCount()).toBe(before)
  })

  it("spellings that reach the route for an admitted credential get its rule, not another's", async () => {
    // spellings that match no route need a valid key: try the keys the route admits
    for (const credential of credentials.filter((c) => admitted(c, route.need) && c !== "none" && c !== "wrong" && c !== "revoked")) {
      for (const spelling of spellings(route.path)) {
        const reply = await request(route.method, spelling, keys[credential], route.body, route.headers)
        // never an authentication or permission refusal for a key this route admits
        expect([401, 403], `${credential} ${route.method} ${spelling}: ${reply.text}`).not.toContain(reply.status)
      }
    }
  })
})

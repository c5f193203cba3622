/**
 * Origins: the router's own origin and, while it listens on loopback, loopback origins are allowed;
 * anything else needs security.allowedOrigins. The Host check against DNS rebinding stays.
 */
import { describe, expect, it } from "vitest"
import { ADMIN, cleanupAfterEach, mcpInitialize, rawRequest, start } from "../security/support.ts"

cleanupAfterEach()

const port = (url: string) => new URL(url).port

describe("on loopback", () => {
  it("same-origin and loopback origins may call /mcp and the API with a key; foreign origins get 403", async () => {
    const server = await start({ server: { timeout: 10_000 } })
    const p = port(server.url)
    for (const origin of [`http://127.0.0.1:${p}`, `http://localhost:${p}`, "http://localhost:6274", `http://[::1]:${p}`, "http://127.0.0.2:9"]) {
      const reply = await mcpInitialize(server, { key: ADMIN, headers: { origin } })
      expect(reply.status, origin).toBe(200)
      expect(reply.headers.get("access-control-allow-origin")).toBe(origin)
    }
    for (const origin of ["http://evil.example", "null", `http://127.0.0.1.evil.example:${p}`, `http://localhost.evil.example:${p}`, "file://", `ftp://127.0.0.1:${p}`, "http://evil.example@127.0.0.1"]) {
      const reply = await mcpInitialize(server, { key: ADMIN, headers: { origin } })
      expect(reply.status, origin).toBe(403)
      expect(reply.json.error.code).toBe(-32003)
      expect(reply.headers.get("access-control-allow-origin")).toBeNull()
    }
  })

  it("answers a preflight from its own origin and refuses a foreign one", async () => {
    const server = await start()
    const own = `http://127.0.0.1:${port(server.url)}`
    const ok = await rawRequest(`${server.url}/mcp`, { method: "OPTIONS", headers: { origin: own, "access-control-request-method": "POST" } })
    expect(ok.status).toBe(204)
    expect(ok.headers["access-control-allow-origin"]).toBe(own)
    const refused = await rawRequest(`${server.url}/config`, { method: "OPTIONS", headers: { origin: "http://evil.example", "access-control-request-method": "POST" } })
    expect(refused.status).toBe(403)
  })

  it("still refuses a Host that is not a loopback name (DNS rebinding), whatever the Origin", async () => {
    const server = await start()
    for (const host of ["evil.example", `evil.example:${port(server.url)}`, "127.0.0.1.evil.example"]) {
      const reply = await rawRequest(`${server.url}/api/tools`, { headers: { host, origin: `http://${host}`, authorization: `Bearer ${ADMIN}` } })
      expect(reply.status, host).toBe(403)
    }
  })
})

describe("beyond loopback", () => {
  it("only its own origin and security.allowedOrigins may call", async () => {
    const server = await start({ server: { host: "0.0.0.0" }, security: { allowedOrigins: ["https://app.example"] } })
    const p = port(server.url)
    for (const origin of [`http://127.0.0.1:${p}`, "https://app.example"]) {
      expect((await mcpInitialize(server, { key: ADMIN, headers: { origin } })).status, origin).toBe(200)
    }
    for (const origin of ["http://localhost:6274", `http://localhost:${p}`, "https://app.example.evil", "http://app.example"]) {
      expect((await mcpInitialize(server, { key: ADMIN, headers: { origin } })).status, origin).toBe(403)
    }
  })
})

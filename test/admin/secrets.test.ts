/** Secrets changed at runtime: redacted by GET /config and the POST reply; what the configuration history shows of them. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type AdminServer, getConfig, postConfig, startAdminServer, tableText } from "./support.ts"

let server: AdminServer
beforeAll(async () => {
  server = await startAdminServer({ tools: { apis: { gh: { baseUrl: "https://api.example.com", headers: { Authorization: "Bearer first" } } } } })
})
afterAll(() => server?.dispose())

const versionsText = async () => {
  const reply = await postConfig(server, { "config.versions": { limit: 1000 } })
  expect(reply.status).toBe(200)
  return reply.text
}

describe("secrets changed through POST /config", () => {
  it("an API header value and a database password set at runtime are redacted in the reply and by GET /config", async () => {
    const reply = await postConfig(server, {
      "tools.apis.gh.headers.Authorization": "Bearer runtime-header-secret",
      "tools.databases": [{ name: "reports", url: "postgres://app:runtime-db-secret@127.0.0.1:1/reports" }]
    })
    expect(reply.status).toBe(200)
    expect(reply.text).not.toContain("runtime-header-secret")
    expect(reply.text).not.toContain("runtime-db-secret")
    const config = await getConfig(server)
    expect(config.tools.apis.gh.headers.Authorization).toBe("[REDACTED]")
    expect(config.tools.databases[0].url).toBe("postgres://app:[REDACTED]@127.0.0.1:1/reports")
  })

  it("a refused change does not echo a secret in the error", async () => {
    const reply = await postConfig(server, { "tools.databases": [{ name: "", url: "postgres://app:refused-db-secret@127.0.0.1:1/x" }] })
    expect(reply.status).toBe(400)
    expect(reply.json.error.message).toContain("tools.databases.0.name")
    expect(reply.text).not.toContain("refused-db-secret")
  })

  it("config.versions shows API header values and database passwords redacted", async () => {
    const text = await versionsText()
    expect(text).toContain("tools.apis.gh.headers.Authorization")
    expect(text).not.toContain("runtime-header-secret")
    expect(text).not.toContain("runtime-db-secret")
  })

  it("a runtime security.adminKey is neither stored in the history nor shown by config.versions", async () => {
    const secret = "runtime-admin-key-0123456789abcdef"
    await postConfig(server, { "security.adminKey": secret })
    expect(await versionsText()).not.toContain(secret)
    expect(tableText(server.dataDir, "config_versions")).not.toContain(secret)
  })
})

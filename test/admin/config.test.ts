/** GET /config (redacted) and POST /config: dotted changes, dry runs, versions and rollback, API keys — over real HTTP. */
import { createHash } from "node:crypto"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ADMIN_KEY,
  type AdminServer,
  adminKeyId,
  call,
  createKey,
  getConfig,
  keyPattern,
  postConfig,
  startAdminServer,
  tableText
} from "./support.ts"

const API_SECRET = "Bearer gh-secret-token-4711"
const DB_URL = "postgres://user:secret@127.0.0.1:1/db"

let server: AdminServer
let adminId: string
beforeAll(async () => {
  server = await startAdminServer({
    tools: {
      apis: { github: { baseUrl: "https://api.github.com", headers: { Authorization: API_SECRET, "X-Team": "blue" } } },
      databases: [{ name: "main", url: DB_URL }]
    }
  })
  adminId = await adminKeyId(server)
})
afterAll(() => server?.dispose())

const versions = async (): Promise<Array<any>> => {
  const reply = await postConfig(server, { "config.versions": {} })
  expect(reply.status).toBe(200)
  return reply.json.versions
}

describe("GET /config", () => {
  it("returns the running configuration with the admin key, API header values and database passwords redacted", async () => {
    const reply = await call(`${server.url}/config`, { key: ADMIN_KEY })
    expect(reply.status).toBe(200)
    const config = reply.json.config
    expect(config.security).toMatchObject({ requireApiKey: true, adminKey: "[REDACTED]" })
    expect(config.storage.dataDir).toBe(server.dataDir)
    expect(config.tools.apis.github).toMatchObject({ baseUrl: "https://api.github.com", headers: { Authorization: "[REDACTED]", "X-Team": "[REDACTED]" } })
    expect(config.tools.databases).toEqual([expect.objectContaining({ name: "main", url: "postgres://user:[REDACTED]@127.0.0.1:1/db" })])
    for (const secret of [ADMIN_KEY, "gh-secret-token-4711", "blue", ":secret@"]) expect(reply.text).not.toContain(secret)
  })

  it("needs the admin permission", async () => {
    expect((await call(`${server.url}/config`)).status).toBe(401)
    const reader = await createKey(server, { name: "reader", permissions: ["read"] })
    const reply = await call(`${server.url}/config`, { key: reader.key })
    expect(reply.status).toBe(403)
    expect(reply.json.error.code).toBe("forbidden")
  })
})

describe("POST /config changes", () => {
  it("applies a valid change at once and numbers it as a version", async () => {
    const reply = await postConfig(server, { "logging.level": "debug" })
    expect(reply.status).toBe(200)
    expect(reply.json).toMatchObject({ applied: true, version: expect.any(Number), changed: ["logging.level"] })
    expect(reply.json.config.logging.level).toBe("debug")
    expect(reply.json.config.security.adminKey).toBe("[REDACTED]")
    expect(reply.text).not.toContain("gh-secret-token-4711")
    expect((await getConfig(server)).logging.level).toBe("debug")
    const logs = await call(`${server.url}/logs?level=debug`, { key: ADMIN_KEY })
    expect(logs.status).toBe(200)
  })

  it("refuses an invalid value naming the field and the value, and applies none of the request", async () => {
    const before = await getConfig(server)
    const reply = await postConfig(server, { "logging.level": "warn", "server.timeout": -5 })
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe("invalid_config")
    expect(reply.json.error.message).toContain("server.timeout")
    expect(reply.json.error.message).toContain("-5")
    expect(reply.json.error.details).toEqual([expect.stringContaining("server.timeout")])
    expect(await getConfig(server)).toEqual(before)
  })

  it("refuses an unknown path", async () => {
    const reply = await postConfig(server, { "logging.colour": "red" })
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe("invalid_config")
    expect(reply.json.error.message).toContain("logging.colour: unknown key")
  })

  it("refuses paths through __proto__, constructor and prototype without touching Object.prototype", async () => {
    for (const path of ["__proto__.polluted", "logging.__proto__.polluted", "constructor.prototype.polluted"]) {
      const reply = await postConfig(server, { [path]: "yes" })
      expect(reply.status, path).toBe(400)
      expect(reply.json.error.message).toContain(`${path}: unknown key`)
    }
    // the server runs in this process: a polluted prototype would show here
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined()
  })

  it("dryRun validates without applying or recording a version; an invalid dry run is refused too", async () => {
    const before = await getConfig(server)
    const latest = (await versions())[0].version
    const reply = await postConfig(server, { "logging.level": "error", dryRun: true })
    expect(reply.status).toBe(200)
    expect(reply.json).toMatchObject({ applied: false, dryRun: true, changed: ["logging.level"] })
    expect(await getConfig(server)).toEqual(before)
    expect((await versions())[0].version).toBe(latest)

    const invalid = await postConfig(server, { "logging.level": "loud", dryRun: true })
    expect(invalid.status).toBe(400)
    expect(invalid.json.error).toMatchObject({ code: "invalid_config", message: expect.stringContaining("logging.level") })
    expect(invalid.json.error.message).toContain("\"loud\"")

    const badFlag = await postConfig(server, { "logging.level": "error", dryRun: "yes" })
    expect(badFlag.status).toBe(400)
    expect(badFlag.json.error.message).toContain("dryRun")
    expect(await getConfig(server)).toEqual(before)
  })

  it("refuses bodies that are not a JSON object, or change nothing, with a clear message", async () => {
    for (const body of ["[1, 2]", "null", "42", "\"logging.level\"", "{not json", ""]) {
      const reply = await call(`${server.url}/config`, { method: "POST", key: ADMIN_KEY, body: body === "" ? " " : body })
      expect(reply.status, body).toBe(400)
      expect(reply.json.error.code).toBe("invalid_request")
      expect(reply.json.error.message).toContain("Expected a JSON object")
    }
    const empty = await postConfig(server, {})
    expect(empty.status).toBe(400)
    expect(empty.json.error.message).toBe("Nothing to change")
  })

  it("refuses an action sent together with other entries", async () => {
    const reply = await postConfig(server, { "security.listApiKeys": {}, "logging.level": "warn" })
    expect(reply.status).toBe(400)
    expect(reply.json.error.message).toContain("security.listApiKeys on its own")
  })
})

describe("configuration versions and rollback", () => {
  it("lists numbered versions, newest first, with the actor and the changed paths", async () => {
    const first = await postConfig(server, { "logging.level": "warn" })
    const second = await postConfig(server, { "logging.level": "error", "server.timeout": 45_000 })
    expect(second.json.version).toBe(first.json.version + 1)
    const list = await versions()
    expect(list[0]).toMatchObject({ version: second.json.version, actor: adminId, changes: { "logging.level": "error", "server.timeout": 45_000 } })
    expect(list[1]).toMatchObject({ version: first.json.version, actor: adminId, changes: { "logging.level": "warn" } })
    expect(Date.parse(list[0].at)).not.toBeNaN()
    // the configuration the server started with is version 1
    expect(list.at(-1)).toMatchObject({ version: 1, actor: "startup", changes: {} })
    expect(list.map((v) => v.version)).toEqual([...list.map((v) => v.version)].sort((a, b) => b - a))
  })

  it("rollback restores a version's values and is itself a new version", async () => {
    const target = (await versions()).find((v) => v.changes["logging.level"] === "warn" && Object.keys(v.changes).length === 1).version
    const latest = (await versions())[0].version
    const reply = await postConfig(server, { "config.rollback": { version: target } })
    expect(reply.status).toBe(200)
    expect(reply.json).toMatchObject({ applied: true, version: latest + 1 })
    const config = await getConfig(server)
    expect(config.logging.level).toBe("warn")
    expect(config.server.timeout).toBe(60_000)
    expect((await versions())[0]).toMatchObject({ version: latest + 1, actor: adminId })
  })

  it("rollback to a missing version is 404; to version 0 is 400", async () => {
    const missing = await postConfig(server, { "config.rollback": { version: 9999 } })
    expect(missing.status).toBe(404)
    expect(missing.json.error).toMatchObject({ code: "not_found", message: expect.stringContaining("9999") })
    expect((await postConfig(server, { "config.rollback": { version: 0 } })).status).toBe(400)
  })

  it("the admin key keeps working after a rollback to the startup version", async () => {
    const reply = await postConfig(server, { "config.rollback": { version: 1 } })
    expect(reply.status).toBe(200)
    const config = await getConfig(server)
    expect(config.logging.level).toBe("info")
    expect(config.security.adminKey).toBe("[REDACTED]")
    expect(config.tools.apis.github.headers.Authorization).toBe("[REDACTED]")
    expect((await postConfig(server, { "security.listApiKeys": {} })).status).toBe(200)
  })

  it("the admin key is never stored in the configuration history, nor shown by config.versions", async () => {
    const shown = await postConfig(server, { "config.versions": { limit: 1000 } })
    expect(shown.text).not.toContain(ADMIN_KEY)
    expect(tableText(server.dataDir, "config_versions")).not.toContain(ADMIN_KEY)
  })
})

describe("runtime security changes", () => {
  it("security.maxRequestsPerMinute applies from the next request", async () => {
    // an admin key with its own limits, so that lowering the global one does not lock the test out
    const ops = await createKey(server, { name: "ops", permissions: ["admin"], ratePerMinute: 1_000_000, ratePerHour: 1_000_000 })
    const reader = await createKey(server, { name: "limited", permissions: ["read"] })
    for (let i = 0; i < 3; i++) expect((await call(`${server.url}/api/tools`, { key: reader.key })).status).toBe(200)
    expect((await postConfig(server, { "security.maxRequestsPerMinute": 2 }, ops.key)).status).toBe(200)
    try {
      const statuses: Array<number> = []
      for (let i = 0; i < 3; i++) statuses.push((await call(`${server.url}/api/tools`, { key: reader.key })).status)
      expect(statuses).toEqual([200, 200, 429])
      const limited = await call(`${server.url}/api/tools`, { key: reader.key })
      expect(limited.status).toBe(429)
      expect(limited.json.error.code).toBe("rate_limited")
      expect(limited.json.error.message).toContain("2 requests per minute")
    } finally {
      expect((await postConfig(server, { "security.maxRequestsPerMinute": 100_000 }, ops.key)).status).toBe(200)
    }
    expect((await call(`${server.url}/api/tools`, { key: reader.key })).status).toBe(200)
  })

  it("security.blockedIps changes at runtime", async () => {
    const reply = await postConfig(server, { "security.blockedIps": ["10.0.0.1/32"], "security.trustedProxies": ["127.0.0.1"] })
    expect(reply.status).toBe(200)
    try {
      expect((await getConfig(server)).security.blockedIps).toEqual(["10.0.0.1/32"])
      const stats = await call(`${server.url}/api/security/stats`, { key: ADMIN_KEY })
      expect(stats.json.blockedIps.configured).toEqual(["10.0.0.1/32"])
      // behind the trusted proxy (this test), the forwarded address is the client's
      const blocked = await call(`${server.url}/api/tools`, { key: ADMIN_KEY, headers: { "x-forwarded-for": "10.0.0.1" } })
      expect(blocked.status).toBe(403)
      expect(blocked.json.error.code).toBe("address_blocked")
      expect((await call(`${server.url}/api/tools`, { key: ADMIN_KEY, headers: { "x-forwarded-for": "10.0.0.2" } })).status).toBe(200)
    } finally {
      await postConfig(server, { "security.blockedIps": [], "security.trustedProxies": [] })
    }
    expect((await getConfig(server)).security.blockedIps).toEqual([])
  })
})

describe("API keys over POST /config", () => {
  it("createApiKey returns the key once; listApiKeys never shows the key nor its hash", async () => {
    const reply = await postConfig(server, { "security.createApiKey": { name: "ci", permissions: ["read", "tools:read_*"] } })
    expect(reply.status).toBe(201)
    expect(reply.json).toMatchObject({ name: "ci", permissions: ["read", "tools:read_*"], revokedAt: null, note: expect.any(String) })
    expect(reply.json.key).toMatch(keyPattern)
    expect(reply.json.hash).toBeUndefined()
    const { key, id } = reply.json
    const list = await postConfig(server, { "security.listApiKeys": {} })
    expect(list.status).toBe(200)
    const record = list.json.keys.find((k: any) => k.id === id)
    expect(record).toMatchObject({ id, name: "ci", prefix: key.slice(0, 10) })
    expect(list.json.count).toBe(list.json.keys.length)
    for (const k of list.json.keys) expect(Object.keys(k)).not.toEqual(expect.arrayContaining(["key"]))
    expect(list.text).not.toContain(key)
    expect(list.text).not.toContain(createHash("sha256").update(key).digest("hex"))
    expect(list.text).not.toContain(createHash("sha256").update(ADMIN_KEY).digest("hex"))
    expect((await call(`${server.url}/api/tools`, { key })).status).toBe(200)
  })

  it.each([
    ["a misspelt permission", { name: "x", permissions: ["reed"] }, "permissions"],
    ["no permissions", { name: "x", permissions: [] }, "permissions"],
    ["no name", { permissions: ["read"] }, "name"],
    ["an unknown field", { name: "x", permissions: ["read"], colour: "red" }, "colour"]
  ])("createApiKey with %s is 400 naming the field", async (_, params, field) => {
    const before = (await postConfig(server, { "security.listApiKeys": {} })).json.count
    const reply = await postConfig(server, { "security.createApiKey": params })
    expect(reply.status).toBe(400)
    expect(reply.json.error.code).toBe("invalid_request")
    expect(reply.json.error.message).toContain(field)
    expect(reply.json.error.message).not.toContain("\n")
    expect((await postConfig(server, { "security.listApiKeys": {} })).json.count).toBe(before)
  })

  it("revokeApiKey of an unknown id is 404", async () => {
    const reply = await postConfig(server, { "security.revokeApiKey": { id: "key_doesnotexist00" } })
    expect(reply.status).toBe(404)
    expect(reply.json.error).toMatchObject({ code: "not_found", message: expect.stringContaining("key_doesnotexist00") })
  })

  it("a revoked key is refused with 401 on its next request", async () => {
    const { key, id } = await createKey(server, { name: "short-lived", permissions: ["read"] })
    expect((await call(`${server.url}/api/tools`, { key })).status).toBe(200)
    const reply = await postConfig(server, { "security.revokeApiKey": { id } })
    expect(reply.status).toBe(200)
    expect(reply.json.revoked).toMatchObject({ id, revokedAt: expect.any(String) })
    const refused = await call(`${server.url}/api/tools`, { key })
    expect(refused.status).toBe(401)
    expect(refused.json.error.message).toContain("revoked")
  })

  it("an action with dryRun does not change anything", async () => {
    const before = (await postConfig(server, { "security.listApiKeys": {} })).json.count
    const reply = await postConfig(server, { "security.createApiKey": { name: "dry", permissions: ["read"] }, dryRun: true })
    expect((await postConfig(server, { "security.listApiKeys": {} })).json.count).toBe(before)
    expect(reply.status).not.toBe(201)
  })
})

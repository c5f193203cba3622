/** API keys over real HTTP: format, hashed storage, refusals, where a key may be presented, logs, persistence, bootstrap and the CLI. */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { describe, expect, it } from "vitest"
import {
  ADMIN, call, cleanupAfterEach, createKey, eventually, jsonRpc, keyPattern, listeningUrl, mcpInitialize, revokeKey, spawnCli,
  start, stop, tempDir, within
} from "./support.ts"

cleanupAfterEach()

const rows = (dataDir: string) => {
  const db = new DatabaseSync(path.join(dataDir, "mcp-router.db"), { readOnly: true })
  try {
    return db.prepare("SELECT * FROM api_keys").all() as Array<Record<string, unknown>>
  } finally {
    db.close()
  }
}

/** An environment for `node src/main.ts` isolated from the repository's config file. */
const cliEnv = (dataDir: string, extra: Record<string, string> = {}) => {
  const configFile = path.join(tempDir(), "config.json")
  fs.writeFileSync(configFile, "{}")
  return { MCP_CONFIG: configFile, MCP_PORT: "0", MCP_HOST: "127.0.0.1", MCP_DATA_DIR: dataDir, MCP_WORKING_DIR: tempDir(), MCP_LOG_FILE: "false", ...extra }
}

describe("key format and storage", () => {
  it("security.createApiKey returns mcp_ + 43 base64url characters, and only the hash is stored", async () => {
    const dataDir = tempDir()
    const server = await start({ storage: { dataDir } })
    const created = await createKey(server, { name: "reader", permissions: ["read"] })
    expect(created.key).toMatch(keyPattern)
    expect(created).toMatchObject({ id: expect.stringMatching(/^key_/), name: "reader", permissions: ["read"], prefix: created.key.slice(0, 10) })
    expect(created).not.toHaveProperty("hash")

    const stored = rows(dataDir).find((row) => row.id === created.id)!
    expect(stored.prefix).toBe(created.key.slice(0, 10))
    expect(stored.hash).toBe(createHash("sha256").update(created.key).digest("hex"))
    for (const row of rows(dataDir)) expect(JSON.stringify(row)).not.toContain(created.key)
    // nor anywhere in the database's files, write-ahead log included
    for (const file of fs.readdirSync(dataDir)) expect(fs.readFileSync(path.join(dataDir, file)).includes(created.key)).toBe(false)
    // the admin key is stored hashed too, never as text
    for (const file of fs.readdirSync(dataDir)) expect(fs.readFileSync(path.join(dataDir, file)).includes(ADMIN)).toBe(false)

    const listed = await call(`${server.url}/config`, { key: ADMIN, body: { "security.listApiKeys": {} } })
    expect(listed.status).toBe(200)
    expect(listed.text).not.toContain(created.key)
    expect(listed.json.keys).toContainEqual(expect.objectContaining({ id: created.id, prefix: created.key.slice(0, 10) }))
  })
})

describe("admin key over POST /config", () => {
  it("never stores nor shows an admin key sent to POST /config", async () => {
    const dataDir = tempDir()
    const server = await start({ storage: { dataDir } })
    const secret = "rotated-admin-secret-ABCDEFGHIJKLMNOP"
    const update = await call(`${server.url}/config`, { key: ADMIN, body: { "security.adminKey": secret } })
    expect(update.text).not.toContain(secret)
    const versions = await call(`${server.url}/config`, { key: ADMIN, body: { "config.versions": {} } })
    expect(versions.status).toBe(200)
    expect(versions.text).not.toContain(secret)
    for (const file of fs.readdirSync(dataDir)) expect(fs.readFileSync(path.join(dataDir, file)).includes(secret), file).toBe(false)
  })
})

describe("refusals", () => {
  it("answers 401 with WWW-Authenticate: Bearer without a key, in each endpoint's wire format", async () => {
    const server = await start()
    const tools = await call(`${server.url}/api/tools`)
    expect(tools.status).toBe(401)
    expect(tools.headers.get("www-authenticate")).toBe("Bearer")
    expect(tools.json).toEqual({ error: { code: "unauthorized", message: expect.stringContaining("An API key is required") } })

    for (const reply of [await mcpInitialize(server), await jsonRpc(server, undefined, "tools/list")]) {
      expect(reply.status).toBe(401)
      expect(reply.headers.get("www-authenticate")).toBe("Bearer")
      expect(reply.json).toEqual({ jsonrpc: "2.0", id: null, error: { code: -32001, message: expect.stringContaining("An API key is required") } })
    }
  })

  it("refuses a wrong key as not valid, a revoked key at once, and an expired key", async () => {
    const server = await start()
    const wrong = await call(`${server.url}/api/tools`, { key: `mcp_${"A".repeat(43)}` })
    expect(wrong.status).toBe(401)
    expect(wrong.json.error.message).toContain("not valid")

    const key = await createKey(server, { permissions: ["read"] })
    expect((await call(`${server.url}/api/tools`, { key: key.key })).status).toBe(200)
    const revoked = await revokeKey(server, key.id)
    expect(revoked.status).toBe(200)
    expect(revoked.json.revoked).toMatchObject({ id: key.id, revokedAt: expect.any(String) })
    const afterRevoke = await call(`${server.url}/api/tools`, { key: key.key })
    expect(afterRevoke.status).toBe(401)
    expect(afterRevoke.json.error.message).toContain("revoked")
    const rpcRevoked = await jsonRpc(server, key.key, "tools/list")
    expect(rpcRevoked.json.error).toMatchObject({ code: -32001, message: expect.stringContaining("revoked") })

    const expired = await createKey(server, { permissions: ["read"], expiresAt: new Date(Date.now() - 60_000).toISOString() })
    const reply = await call(`${server.url}/api/tools`, { key: expired.key })
    expect(reply.status).toBe(401)
    expect(reply.headers.get("www-authenticate")).toBe("Bearer")
    expect(reply.json.error.message).toContain("expired")
  })

  it("answers 404 for revoking an unknown id", async () => {
    const server = await start()
    const reply = await revokeKey(server, "key_doesnotexist")
    expect(reply.status).toBe(404)
    expect(reply.json.error.message).toContain("key_doesnotexist")
  })
})

describe("presenting a key", () => {
  it("accepts Authorization: Bearer, X-API-Key and ?api_key=", async () => {
    const server = await start()
    const { key } = await createKey(server, { permissions: ["read"] })
    expect((await call(`${server.url}/api/tools`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200)
    expect((await call(`${server.url}/api/tools`, { headers: { "x-api-key": key } })).status).toBe(200)
    expect((await call(`${server.url}/api/tools?api_key=${key}`)).status).toBe(200)
  })

  it("ignores ?api_key= when security.allowQueryApiKey is false", async () => {
    const server = await start({ security: { allowQueryApiKey: false } })
    const { key } = await createKey(server, { permissions: ["read"] })
    const reply = await call(`${server.url}/api/tools?api_key=${key}`)
    expect(reply.status).toBe(401)
    expect(reply.json.error.message).toContain("An API key is required")
    expect((await call(`${server.url}/api/tools`, { headers: { "x-api-key": key } })).status).toBe(200)
  })
})

describe("keys never reach the logs", () => {
  it("keeps the key out of GET /logs and the log file", async () => {
    const logDir = tempDir()
    const server = await start({ logging: { enableFile: true, logDir, level: "trace" } })
    const { key, id } = await createKey(server, { permissions: ["read", "tools:read_*"] })
    await call(`${server.url}/api/tools`, { key })
    await call(`${server.url}/api/tools?api_key=${key}`)
    await call(`${server.url}/api/mcp/jsonrpc?api_key=${key}`, { body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "write_file", arguments: {} } } })
    await call(`${server.url}/api/mcp/jsonrpc`, { headers: { "x-api-key": key }, body: "{not json" })
    await call(`${server.url}/config`, { key, body: { "logging.level": "debug" } })
    await revokeKey(server, id)
    expect((await call(`${server.url}/api/tools?api_key=${key}`)).status).toBe(401)

    const logs = await call(`${server.url}/logs?limit=10000&level=trace`, { key: ADMIN })
    expect(logs.status).toBe(200)
    expect(logs.json.count).toBeGreaterThan(0)
    expect(logs.text).not.toContain(key)
    expect(logs.text).not.toContain(key.slice(4))
    expect(logs.text).not.toContain(ADMIN)

    await stop(server)
    const files = fs.readdirSync(logDir)
    expect(files).toContain("mcp-router.log")
    for (const file of files) {
      const text = fs.readFileSync(path.join(logDir, file), "utf8")
      expect(text.length).toBeGreaterThan(0)
      expect(text).not.toContain(key)
      expect(text).not.toContain(key.slice(4))
      expect(text).not.toContain(ADMIN)
    }
  })
})

describe("persistence", () => {
  it("a key keeps working after a restart on the same data dir", async () => {
    const dataDir = tempDir()
    const first = await start({ storage: { dataDir } })
    const { key } = await createKey(first, { permissions: ["read"] })
    await stop(first)
    const second = await start({ storage: { dataDir } })
    expect((await call(`${second.url}/api/tools`, { key })).status).toBe(200)
  })
})

describe("admin bootstrap (the real CLI)", () => {
  it("prints a generated admin key once, to stderr, on the first start with an empty store", async () => {
    const dataDir = tempDir()
    const env = cliEnv(dataDir)
    const first = spawnCli(["serve"], env)
    const url = await listeningUrl(first)
    const match = first.output.stderr.match(/Admin API Key: (mcp_\S+)/)
    expect(match).not.toBeNull()
    const key = match![1]!
    expect(key).toMatch(keyPattern)
    expect(first.output.stdout).not.toContain(key)
    expect(first.output.stderr.match(/Admin API Key/g)).toHaveLength(1)
    expect((await call(`${url}/config`, { key })).status).toBe(200)
    expect((await call(`${url}/config`)).status).toBe(401)
    first.process.kill("SIGTERM")
    expect(await within(first.exited, "the first server to stop")).toBe(0)

    const second = spawnCli(["serve"], env)
    const url2 = await listeningUrl(second)
    expect(second.output.stderr).not.toContain("Admin API Key")
    expect((await call(`${url2}/config`, { key })).status).toBe(200)
  })

  it("refuses to start with an MCP_ADMIN_KEY shorter than 24 characters", async () => {
    const dataDir = tempDir()
    const cli = spawnCli(["serve"], cliEnv(dataDir, { MCP_ADMIN_KEY: "too-short-key" }))
    expect(await within(cli.exited, "the refused start")).toBe(1)
    expect(cli.output.stderr).toContain("at least 24 characters")
    expect(cli.output.stderr).not.toContain("too-short-key")
    expect(cli.output.stdout).not.toContain("listening on")
  })

  it("stores the key of MCP_ADMIN_KEY_FILE and accepts it as admin", async () => {
    const dataDir = tempDir()
    const secret = path.join(tempDir(), "admin.key")
    const adminKey = "file-held-admin-key-abcdefghijklmnop"
    fs.writeFileSync(secret, `${adminKey}\n`)
    const cli = spawnCli(["serve"], cliEnv(dataDir, { MCP_ADMIN_KEY_FILE: secret }))
    const url = await listeningUrl(cli)
    expect(cli.output.stderr).not.toContain("Admin API Key")
    expect((await call(`${url}/config`, { key: adminKey })).status).toBe(200)
    expect((await call(`${url}/config`, { key: "file-held-admin-key-abcdefghijklmnoX" })).status).toBe(401)
  })
})

describe("keys managed by the CLI next to a running server", () => {
  it("a key created by `keys create` is accepted, and one revoked by `keys revoke` refused, within about a second", async () => {
    const dataDir = tempDir()
    const server = await start({ storage: { dataDir } })
    const env = cliEnv(dataDir)
    const created = spawnCli(["keys", "create", "--name", "x", "--permissions", "read"], env)
    expect(await within(created.exited, "keys create")).toBe(0)
    const key = created.output.stdout.match(/API Key: (mcp_\S+)/)?.[1]
    const id = created.output.stdout.match(/id (key_\w+)/)?.[1]
    expect(key).toMatch(keyPattern)
    expect(id).toBeDefined()

    const status = async () => (await call(`${server.url}/api/tools`, { key: key! })).status
    expect(await eventually(async () => (await status()) === 200, 3_000)).toBe(true)

    const revoked = spawnCli(["keys", "revoke", id!], env)
    expect(await within(revoked.exited, "keys revoke")).toBe(0)
    expect(await eventually(async () => (await status()) === 401, 3_000)).toBe(true)
    const reply = await call(`${server.url}/api/tools`, { key: key! })
    expect(reply.json.error.message).toContain("revoked")
  })
})

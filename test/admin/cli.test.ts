/** `mcp-router keys create|list|revoke` and `audit verify` on a temporary database, as child processes. */
import * as fs from "node:fs"
import { afterAll, describe, expect, it } from "vitest"
import { keyPattern, makeTempDir, runCli, stackLine, tableText } from "./support.ts"

const dataDir = makeTempDir("mcp-admin-cli-")
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }))
const env = { MCP_DATA_DIR: dataDir }
const cli = (...args: Array<string>) => runCli(args, env)

let created: { key: string; id: string }

describe("mcp-router keys", () => {
  it("keys create prints the key once, its id and permissions", async () => {
    const result = await cli("keys", "create", "--name", "ci", "--permissions", "read,tools:read_*")
    expect(result.code, result.stderr).toBe(0)
    const key = result.stdout.match(/^API Key: (\S+)$/m)?.[1]
    const id = result.stdout.match(/^id (key_[0-9a-f]+), permissions read, tools:read_\* \(shown once/m)?.[1]
    expect(key).toMatch(keyPattern)
    expect(id).toBeDefined()
    created = { key: key!, id: id! }
    // only the hash is stored
    expect(tableText(dataDir, "api_keys")).not.toContain(created.key)
  })

  it("keys list shows id, prefix, state, permissions and name, never the key", async () => {
    const result = await cli("keys", "list")
    expect(result.code, result.stderr).toBe(0)
    const line = result.stdout.split("\n").find((l) => l.startsWith(created.id))
    expect(line).toBe(`${created.id}  ${created.key.slice(0, 10)}…  active   read,tools:read_*  ci`)
    expect(result.stdout).not.toContain(created.key)
  })

  it("keys list --json parses, without the key or its hash", async () => {
    const result = await cli("keys", "list", "--json")
    expect(result.code, result.stderr).toBe(0)
    const keys = JSON.parse(result.stdout)
    expect(keys).toEqual([expect.objectContaining({ id: created.id, name: "ci", prefix: created.key.slice(0, 10), permissions: ["read", "tools:read_*"], revokedAt: null })])
    expect(keys[0].hash).toBeUndefined()
    expect(result.stdout).not.toContain(created.key)
  })

  it("keys revoke <id> revokes it; list then shows it revoked", async () => {
    const result = await cli("keys", "revoke", created.id)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`^Revoked ${created.id} \\(ci\\) at \\d{4}-`, "m"))
    const list = await cli("keys", "list")
    expect(list.stdout).toContain(`${created.id}  ${created.key.slice(0, 10)}…  revoked  read,tools:read_*  ci`)
    const json = JSON.parse((await cli("keys", "list", "--json")).stdout)
    expect(Date.parse(json[0].revokedAt)).not.toBeNaN()
  })

  it("keys revoke of an unknown id exits 1 with one line and no stack trace", async () => {
    const result = await cli("keys", "revoke", "nope")
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe("No API key with id nope; security.listApiKeys shows the ids")
    expect(result.stderr).not.toMatch(stackLine)
  })

  it("keys create with a misspelt permission exits 1 naming --permissions and stores nothing", async () => {
    const result = await cli("keys", "create", "--name", "bad", "--permissions", "reed")
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("--permissions:")
    expect(result.stderr).toContain("Expected read, execute, admin, * or tools:<glob>")
    expect(result.stderr.trim().split("\n")).toHaveLength(1)
    expect(result.stderr).not.toMatch(stackLine)
    expect(result.stdout).not.toContain("API Key:")
    expect(JSON.parse((await cli("keys", "list", "--json")).stdout)).toHaveLength(1)
  })

  it("keys create with an invalid --expires-at exits 1 naming it", async () => {
    const result = await cli("keys", "create", "--name", "bad", "--permissions", "read", "--expires-at", "someday")
    expect(result.code).toBe(1)
    expect(result.stderr.trim()).toBe("--expires-at: expected an ISO 8601 time, got someday")
  })
})

describe("mcp-router audit verify", () => {
  it("passes on an empty database", async () => {
    const empty = makeTempDir("mcp-admin-cli-empty-")
    try {
      const result = await runCli(["audit", "verify"], { MCP_DATA_DIR: empty })
      expect(result.code, result.stderr).toBe(0)
      expect(result.stdout).toContain("Audit trail verified: 0 entries, chain intact")
    } finally {
      fs.rmSync(empty, { recursive: true, force: true })
    }
  })
})

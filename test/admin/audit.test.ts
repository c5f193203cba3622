/** The audit trail over HTTP: tool calls and admin actions recorded, GET /api/audit, and `audit verify` on the file. */
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ADMIN_KEY,
  type AdminServer,
  adminKeyId,
  audit,
  call,
  callTool,
  createKey,
  makeTempDir,
  postConfig,
  runCli,
  stackLine,
  startAdminServer,
  tableText,
  withDatabase
} from "./support.ts"

/** Written by write_file: it must never reach the audit trail. */
const SECRET = "zebra-unicorn-4711-do-not-log"

let server: AdminServer
let adminId: string
let exec: { key: string; id: string }
let reader: { key: string; id: string }
const copies: Array<string> = []
beforeAll(async () => {
  server = await startAdminServer()
  adminId = await adminKeyId(server)
  exec = await createKey(server, { name: "exec", permissions: ["execute"] })
  reader = await createKey(server, { name: "reader", permissions: ["read", "tools:read_*"] })
})
afterAll(async () => {
  for (const dir of copies) fs.rmSync(dir, { recursive: true, force: true })
  await server?.dispose()
})

const entries = async (query: Record<string, string | number> = {}): Promise<{ entries: Array<any>; total: number }> => {
  const reply = await audit(server, { limit: 1000, ...query })
  expect(reply.status).toBe(200)
  return reply.json
}
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe("tool calls in the audit trail", () => {
  it("records ok, error and denied calls with the key id, duration and argument names, never the values", async () => {
    const writeArgs = { path: "notes.txt", content: SECRET }
    const wrote = await callTool(server, exec.key, "write_file", writeArgs)
    expect(wrote.json.result.isError).toBe(false)
    const failed = await callTool(server, exec.key, "read_file", { path: "missing.txt" })
    expect(failed.json.result.isError).toBe(true)
    const denied = await callTool(server, reader.key, "write_file", { path: "other.txt", content: SECRET })
    expect(denied.status).toBe(403)

    const mine = (await entries({ actor: exec.id })).entries
    expect(mine.map((e) => [e.action, e.target, e.outcome])).toEqual([["tool.call", "read_file", "error"], ["tool.call", "write_file", "ok"]])
    const [readEntry, writeEntry] = mine
    expect(writeEntry).toMatchObject({ actor: exec.id, durationMs: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) })
    expect(writeEntry.details).toEqual({
      transport: "jsonrpc",
      ip: expect.stringContaining("127.0.0.1"),
      argumentNames: ["path", "content"],
      argumentsDigest: createHash("sha256").update(JSON.stringify(writeArgs)).digest("hex").slice(0, 16)
    })
    expect(writeEntry.durationMs).toBeGreaterThanOrEqual(0)
    expect(readEntry.details.argumentNames).toEqual(["path"])
    expect(Date.parse(writeEntry.at)).not.toBeNaN()

    const refused = (await entries({ actor: reader.id, outcome: "denied" })).entries
    expect(refused).toHaveLength(1)
    expect(refused[0]).toMatchObject({ action: "tool.call", target: "write_file", details: { argumentNames: ["path", "content"] } })
    expect(refused[0].durationMs).toBeUndefined()

    const all = await audit(server, { limit: 1000 })
    expect(all.text).not.toContain(SECRET)
    expect(tableText(server.dataDir, "audit_log")).not.toContain(SECRET)
  })
})

describe("admin actions in the audit trail", () => {
  it("records config.update (applied and refused), key.create, key.revoke and config.rollback by the admin key", async () => {
    const applied = await postConfig(server, { "logging.level": "warn" })
    expect(applied.status).toBe(200)
    expect((await postConfig(server, { "logging.level": "loud" })).status).toBe(400)
    const created = await createKey(server, { name: "temporary", permissions: ["read"] })
    expect((await postConfig(server, { "security.revokeApiKey": { id: created.id } })).status).toBe(200)
    expect((await postConfig(server, { "config.rollback": { version: 1 } })).status).toBe(200)

    const admin = (await entries({ actor: adminId })).entries
    const find = (action: string, outcome = "ok") => admin.find((e) => e.action === action && e.outcome === outcome)
    expect(find("config.update")).toMatchObject({ target: "logging.level", details: { version: applied.json.version } })
    expect(find("config.update", "error")).toMatchObject({ target: "logging.level", details: { problems: [expect.stringContaining("logging.level")] } })
    expect(find("key.create")).toMatchObject({ target: created.id, details: { name: "temporary", permissions: ["read"] } })
    expect(find("key.revoke")).toMatchObject({ target: created.id })
    expect(find("config.rollback")).toMatchObject({ outcome: "ok", details: { version: expect.any(Number) } })
    // the keys made in beforeAll are there too, and no key itself is
    expect(admin.filter((e) => e.action === "key.create").map((e) => e.target)).toEqual(expect.arrayContaining([exec.id, reader.id]))
    const text = (await audit(server, { limit: 1000 })).text
    for (const key of [created.key, exec.key, ADMIN_KEY]) expect(text).not.toContain(key)
  })
})

describe("GET /api/audit", () => {
  it("filters by actor, action, target, outcome and time", async () => {
    await entries() // flushes what is queued
    await pause(5)
    const mark = new Date().toISOString()
    const before = await entries({ until: mark })
    await pause(5)
    await callTool(server, exec.key, "list_directory", { path: "." })
    await callTool(server, exec.key, "read_file", { path: "notes.txt" })

    const since = await entries({ since: mark })
    expect(since.total).toBe(2)
    expect(since.entries.map((e) => e.target)).toEqual(["read_file", "list_directory"])
    expect(since.entries.every((e) => e.at >= mark)).toBe(true)
    expect((await entries({ until: mark })).total).toBe(before.total)
    expect((await entries({ since: mark, until: new Date(Date.now() + 60_000).toISOString() })).total).toBe(2)

    const reads = await entries({ target: "read_file" })
    expect(reads.total).toBe(reads.entries.length)
    expect(reads.entries.map((e) => e.target)).toEqual(Array(reads.total).fill("read_file"))
    expect(reads.entries.map((e) => e.outcome)).toEqual(expect.arrayContaining(["ok", "error"]))

    const creates = await entries({ action: "key.create" })
    expect(creates.entries.every((e) => e.action === "key.create")).toBe(true)
    const errors = await entries({ outcome: "error", action: "tool.call", actor: exec.id })
    expect(errors.entries.map((e) => e.target)).toEqual(["read_file"])
    expect((await entries({ actor: "key_nobody" })).total).toBe(0)
  })

  it("since with a UTC offset means the same instant as in UTC", async () => {
    const latest = (await entries({ limit: 1 })).entries[0]
    const instant = Date.parse(latest.at)
    const inPlusTwo = new Date(instant + 2 * 3_600_000).toISOString().replace("Z", "+02:00")
    expect((await entries({ since: inPlusTwo })).total).toBe((await entries({ since: latest.at })).total)
  })

  it("pages newest first with limit, offset and the total", async () => {
    const first = await entries({ limit: 4 })
    expect(first.entries).toHaveLength(4)
    const page1 = await entries({ limit: 2, offset: 0 })
    const page2 = await entries({ limit: 2, offset: 2 })
    expect(page1.total).toBe(first.total)
    expect(page2.total).toBe(first.total)
    expect([...page1.entries, ...page2.entries].map((e) => e.id)).toEqual(first.entries.map((e) => e.id))
    const ids = first.entries.map((e) => e.id)
    expect(ids).toEqual([...ids].sort((a, b) => b - a))
    expect((await entries({ limit: 2, offset: first.total })).entries).toEqual([])
    // the default page is the newest 100
    const defaults = (await audit(server)).json
    expect(defaults.entries[0].id).toBe(ids[0])
  })

  it.each([["limit", "0"], ["limit", "abc"], ["limit", "1001"], ["offset", "-1"], ["outcome", "maybe"]])(
    "refuses %s=%s with 400",
    async (name, value) => {
      const reply = await audit(server, { [name]: value })
      expect(reply.status).toBe(400)
      expect(reply.json.error.code).toBe("invalid_request")
      expect(reply.json.error.message).toContain("Invalid query")
    }
  )

  it("needs the admin permission", async () => {
    expect((await audit(server, {}, reader.key)).status).toBe(403)
    expect((await call(`${server.url}/api/audit`)).status).toBe(401)
  })
})

describe("audit verify on the stopped router's file", () => {
  /** A copy of the data folder, removed after the file's tests. */
  const copyOfData = () => {
    const dir = makeTempDir("mcp-admin-copy-")
    copies.push(dir)
    fs.cpSync(server.dataDir, dir, { recursive: true })
    return dir
  }
  const verify = (dataDir: string) => runCli(["audit", "verify"], { MCP_DATA_DIR: dataDir })
  const lastId = (dataDir: string) => withDatabase(dataDir, (db) => (db.prepare("SELECT MAX(id) AS id FROM audit_log").get() as { id: number }).id)

  it("passes on the untouched trail", async () => {
    await server.stop()
    const result = await verify(server.dataDir)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(new RegExp(`Audit trail verified: ${lastId(server.dataDir)} entries, chain intact`))
  })

  it("fails naming an entry that was changed", async () => {
    const dir = copyOfData()
    withDatabase(dir, (db) => db.prepare("UPDATE audit_log SET target = 'x' WHERE id = 2").run())
    const result = await verify(dir)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("Audit trail verification FAILED after 1 entries: entry 2 was changed after it was written")
    expect(result.stderr).not.toMatch(stackLine)
  })

  it("fails naming an entry that was deleted from the middle", async () => {
    const dir = copyOfData()
    withDatabase(dir, (db) => db.prepare("DELETE FROM audit_log WHERE id = 3").run())
    const result = await verify(dir)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("entry 3 is missing")
    expect(result.stderr).not.toMatch(stackLine)
  })

  it("fails when the first entry is deleted", async () => {
    const dir = copyOfData()
    withDatabase(dir, (db) => db.prepare("DELETE FROM audit_log WHERE id = 1").run())
    const result = await verify(dir)
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("entry 1 is missing")
  })

  // A hash chain cannot see its tail cut off: nothing outside the table records how long it was.
  // This documents the limitation (reported); it is not the behaviour one would wish for.
  it("does not detect deletion of the newest entries (no external anchor of the tail)", async () => {
    const dir = copyOfData()
    const last = lastId(dir)
    withDatabase(dir, (db) => db.prepare("DELETE FROM audit_log WHERE id >= ?").run(last - 1))
    const result = await verify(dir)
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`${last - 2} entries, chain intact`)
  })
})

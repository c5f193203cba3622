/**
 * The audit store on a real full disk: storage.dataDir on a 2 MB tmpfs that a filler file fills.
 * Tool calls fail with the audit-store error (none succeeds unaudited, none runs once the failure is
 * known), /health/ready is 503 with the reason, and when the filler goes the router serves again by
 * itself, with every acknowledged call in a chain that verifies. (A read-only remount is refused
 * while SQLite holds the file open for writing; a locked database is tested in auditStore.test.ts.)
 *
 * Mounting needs root (CI runs as root); without it this file is skipped, and the same behaviour is
 * tested on a failing store without a mount in auditStore.test.ts ("a failing audit store").
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { databaseFile } from "../../src/storage/Database.ts"
import { startServer } from "../support/server.ts"
import { call, makeTempDir, type RunningServer, runCli } from "./support.ts"

const mountPoint = makeTempDir("mcp-audit-tmpfs-")
let skipReason: string | undefined
try {
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=2m", "tmpfs", mountPoint], { stdio: "pipe" })
} catch (error) {
  skipReason = `cannot mount a tmpfs (needs root): ${String((error as { stderr?: unknown }).stderr ?? error).trim()}`
  console.warn(`auditDiskFull.test.ts skipped: ${skipReason}; the failing-store tests of auditStore.test.ts still run`)
}

const dataDir = path.join(mountPoint, "data")
/** The tools' folder, on the ordinary disk and kept after the server closes: what ran is seen there. */
const workingDir = makeTempDir("mcp-audit-work-")
const filler = path.join(mountPoint, "filler")
let server: RunningServer | undefined

afterAll(async () => {
  await server?.close()
  if (skipReason === undefined) {
    try {
      execFileSync("umount", [mountPoint], { stdio: "pipe" })
    } catch {
      execFileSync("umount", ["-l", mountPoint], { stdio: "pipe" })
    }
  }
  fs.rmSync(mountPoint, { recursive: true, force: true })
  fs.rmSync(workingDir, { recursive: true, force: true })
})

/** Writes to `file` until the file system says no more. */
const fill = (file: string) => {
  const fd = fs.openSync(file, "w")
  try {
    for (const size of [1 << 16, 1 << 12, 1 << 9, 1]) {
      const chunk = Buffer.alloc(size, 0x61)
      for (;;) {
        try {
          fs.writeSync(fd, chunk)
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === "ENOSPC") break
          throw error
        }
      }
    }
  } finally {
    fs.closeSync(fd)
  }
}

const digestOf = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16)
const writeFile = (id: string) =>
  call(`${server!.url}/api/mcp/jsonrpc`, {
    body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "write_file", arguments: { path: `${id}.txt`, content: id } } }
  })
const ready = () => call(`${server!.url}/health/ready`)

describe.skipIf(skipReason !== undefined)("the audit store on a full disk (tmpfs)", () => {
  beforeAll(async () => {
    fs.mkdirSync(dataDir)
    server = await startServer({ storage: { dataDir }, tools: { workingDir } })
  })

  it("refuses tool calls with the audit error, is unready with the reason, and recovers when space is freed", async () => {
    const acknowledged: Array<string> = []
    for (const id of ["before-1", "before-2"]) {
      const reply = await writeFile(id)
      expect(reply.json.result?.isError, reply.text).toBe(false)
      acknowledged.push(id)
    }
    expect((await ready()).status).toBe(200)
    const mcp = new McpClient({ name: "disk-full", version: "1" })
    await mcp.connect(new StreamableHTTPClientTransport(new URL(`${server!.url}/mcp`)))

    fill(filler)
    // a call whose entry fits in what SQLite already holds may still succeed (and is on disk): go on until one fails
    let failure: { readonly id: string; readonly reply: Awaited<ReturnType<typeof writeFile>> } | undefined
    for (let i = 0; i < 200 && failure === undefined; i++) {
      const id = `full-${i}`
      const reply = await writeFile(id)
      if (reply.json.result?.isError === false) acknowledged.push(id)
      else failure = { id, reply }
    }
    expect(failure, "no call failed on the full disk").toBeDefined()
    const { reply } = failure!
    expect(reply.status, reply.text).toBe(503)
    expect(reply.headers.get("retry-after")).toBe("2")
    expect(reply.json.error).toMatchObject({
      code: -32050,
      message: expect.stringMatching(/^Audit store unavailable: the disk holding the database is full\. Tool calls are refused/),
      data: { reason: "the disk holding the database is full" }
    })

    // while the store fails, calls are refused before they run
    const refused = await writeFile("refused")
    expect(refused.status).toBe(503)
    expect(refused.json.error.code).toBe(-32050)
    expect(fs.existsSync(path.join(workingDir, "refused.txt"))).toBe(false)
    // over MCP: an isError result carrying the message
    const viaMcp = await mcp.callTool({ name: "write_file", arguments: { path: "mcp.txt", content: "x" } })
    expect(viaMcp.isError).toBe(true)
    expect(JSON.stringify(viaMcp.content)).toContain("Audit store unavailable: the disk holding the database is full")
    expect(fs.existsSync(path.join(workingDir, "mcp.txt"))).toBe(false)
    await mcp.close()

    const unready = await ready()
    expect(unready.status).toBe(503)
    expect(unready.json.reasons).toContain(
      "audit: entries cannot be written (the disk holding the database is full); tool calls are refused until they can"
    )

    fs.rmSync(filler)
    // the probe retries every 2 s
    let recovered = false
    for (let i = 0; i < 100 && !recovered; i++) {
      recovered = (await ready()).status === 200
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(recovered).toBe(true)
    const after = await writeFile("after")
    expect(after.json.result?.isError, after.text).toBe(false)
    acknowledged.push("after")

    await server!.close()
    server = undefined
    const db = new DatabaseSync(databaseFile(dataDir), { readOnly: true })
    const rows = db.prepare("SELECT details FROM audit_log WHERE action = 'tool.call' ORDER BY id").all() as Array<{ details: string }>
    db.close()
    const details = rows.map((row) => JSON.parse(row.details) as { argumentsDigest: string; auditDelayed?: boolean })
    const written = new Set(details.map((d) => d.argumentsDigest))
    for (const id of acknowledged) expect(written.has(digestOf({ path: `${id}.txt`, content: id })), id).toBe(true)
    // the call that ran while its entry failed is in the trail too, marked: its caller was told it failed
    expect(fs.existsSync(path.join(workingDir, `${failure!.id}.txt`))).toBe(true)
    const late = details.find((d) => d.argumentsDigest === digestOf({ path: `${failure!.id}.txt`, content: failure!.id }))
    expect(late).toMatchObject({ auditDelayed: true })
    // nothing refused was recorded as run, and the chain verifies
    expect(written.has(digestOf({ path: "refused.txt", content: "refused" }))).toBe(false)
    const verified = await runCli(["audit", "verify"], { MCP_DATA_DIR: dataDir })
    expect(verified.code, verified.stderr).toBe(0)
    expect(verified.stdout).toContain("chain intact")
  })
})

/**
 * The real server process killed with SIGKILL in the middle of a burst of tool calls: every call that
 * was answered has its audit entry in the file afterwards, the chain verifies, and the restarted router
 * continues it.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterEach, describe, expect, it } from "vitest"
import { databaseFile } from "../../src/storage/Database.ts"
import { startServeProcess } from "../support/serveProcess.ts"
import { makeTempDir, runCli } from "./support.ts"

const children: Array<ChildProcessWithoutNullStreams> = []
const folders: Array<string> = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

/** Starts `serve` (keys off, limits out of the way) and resolves with its URL once it listens. */
const serve = async (dir: string) => {
  const router = await startServeProcess({
    MCP_WORKING_DIR: path.join(dir, "work"),
    MCP_DATA_DIR: path.join(dir, ".data"),
    MCP_REQUIRE_API_KEY: "false",
    MCP_MAX_REQUESTS_PER_MINUTE: "100000",
    MCP_MAX_REQUESTS_PER_HOUR: "1000000"
  }, 20_000)
  children.push(router.child)
  return router
}

const argsOf = (id: string) => ({ path: `${id}.txt`, content: id })
const digestOf = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16)

/** A tools/call answered with a result: the router acknowledged it. */
const acknowledged = async (url: string, id: string) => {
  try {
    const response = await fetch(`${url}/api/mcp/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "write_file", arguments: argsOf(id) } })
    })
    const reply = (await response.json()) as { result?: { isError: boolean } }
    return reply.result !== undefined
  } catch {
    return false // the process died before it answered
  }
}

describe("audit entries through a SIGKILL", () => {
  it("keeps the entry of every acknowledged tool call of a burst, in a chain that verifies and continues", async () => {
    const dir = makeTempDir("mcp-audit-crash-")
    folders.push(dir)
    const first = await serve(dir)
    const answered: Array<string> = []
    let killed = false
    // 40 clients calling one after another; the 300th answer kills the process at once, calls in flight
    const clients = Array.from({ length: 40 }, async (_, client) => {
      for (let n = 0; !killed; n++) {
        const id = `c${client}-${n}`
        if (!(await acknowledged(first.url, id))) continue
        answered.push(id)
        if (answered.length === 300) {
          first.child.kill("SIGKILL")
          killed = true
        }
      }
    })
    await Promise.all(clients)
    await first.exited
    expect(answered.length).toBeGreaterThanOrEqual(300)

    const dataDir = path.join(dir, ".data")
    const db = new DatabaseSync(databaseFile(dataDir))
    const digests = new Set(
      (db.prepare("SELECT details FROM audit_log WHERE action = 'tool.call'").all() as Array<{ details: string }>)
        .map((row) => (JSON.parse(row.details) as { argumentsDigest: string }).argumentsDigest)
    )
    db.close()
    const missing = answered.filter((id) => !digests.has(digestOf(argsOf(id))))
    expect(missing).toEqual([])

    const verified = await runCli(["audit", "verify"], { MCP_DATA_DIR: dataDir })
    expect(verified.code, verified.stderr).toBe(0)

    // the restarted router continues the chain where the file ends
    const second = await serve(dir)
    expect(await acknowledged(second.url, "after-restart")).toBe(true)
    second.child.kill("SIGTERM")
    await second.exited
    const again = await runCli(["audit", "verify"], { MCP_DATA_DIR: dataDir })
    expect(again.code, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/Audit trail verified: \d+ entries, chain intact/)
  }, 120_000) // two server starts and two CLI runs on a loaded 2-core machine
})

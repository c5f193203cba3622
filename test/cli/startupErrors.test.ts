/**
 * Start-up failures a user can fix end in one line that names the setting and the fix, a non-zero exit
 * and no stack trace: an unusable storage.dataDir (read-only file system, not a folder, not creatable),
 * an unreadable config file, a port in use.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { cleanupAfterEach, spawnCli, tempDir, within } from "../security/support.ts"

cleanupAfterEach()

const stackLine = /^\s+at /m

const serve = async (env: Record<string, string>, args: ReadonlyArray<string> = []) => {
  const cli = spawnCli(["serve", ...args], { MCP_PORT: "0", MCP_HOST: "127.0.0.1", MCP_LOG_CONSOLE: "false", MCP_ADMIN_KEY: "startup-test-admin-key-0123456789", ...env })
  const code = await within(cli.exited, "the router to exit")
  return { code, stderr: cli.output.stderr, stdout: cli.output.stdout }
}

const expectOneLine = (result: { code: number | null; stderr: string }, ...fragments: Array<string | RegExp>) => {
  expect(result.code).toBe(1)
  expect(result.stderr).not.toMatch(stackLine)
  const lines = result.stderr.trim().split("\n").filter((line) => !line.startsWith("{"))
  expect(lines.length, result.stderr).toBeLessThanOrEqual(2)
  for (const fragment of fragments) expect(result.stderr).toMatch(fragment)
}

describe("storage.dataDir", () => {
  let readOnly: string | undefined
  beforeAll(() => {
    // a real read-only file system: a tmpfs mounted ro (root only; CI runs as root)
    // not a tempDir: those are removed after each test, and a mount point cannot be
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-ro-"))
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", dir], { stdio: "ignore" })
      readOnly = dir
    } catch {
      readOnly = undefined
    }
  })
  afterAll(() => {
    if (readOnly !== undefined) execFileSync("umount", [readOnly], { stdio: "ignore" })
    if (readOnly !== undefined) fs.rmSync(readOnly, { recursive: true, force: true })
  })

  it("on a read-only file system", async (context) => {
    if (readOnly === undefined) return context.skip("mounting a tmpfs needs root")
    const work = tempDir()
    expectOneLine(await serve({ MCP_DATA_DIR: readOnly, MCP_WORKING_DIR: work }), "storage.dataDir", "read-only file system", "MCP_DATA_DIR")
    expectOneLine(await serve({ MCP_DATA_DIR: path.join(readOnly, "sub"), MCP_WORKING_DIR: work }), "storage.dataDir", "MCP_DATA_DIR")
  })

  it("below a file", async () => {
    const work = tempDir()
    const file = path.join(work, "..", `${path.basename(work)}-file`)
    fs.writeFileSync(file, "x")
    try {
      expectOneLine(await serve({ MCP_DATA_DIR: path.join(file, "data"), MCP_WORKING_DIR: work }), "storage.dataDir", "ENOTDIR", "MCP_DATA_DIR")
    } finally {
      fs.rmSync(file, { force: true })
    }
  })
})

describe("the config file", () => {
  it("missing or a folder", async () => {
    const work = tempDir()
    const env = { MCP_DATA_DIR: path.join(work, "data"), MCP_WORKING_DIR: work }
    expectOneLine(await serve(env, ["--config", path.join(work, "missing.json")]), "does not exist")
    expectOneLine(await serve(env, ["--config", work]), "cannot read")
  })
})

describe("the port", () => {
  it("in use names server.port", async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve))
    try {
      const work = tempDir()
      const result = await serve({ MCP_PORT: String((blocker.address() as net.AddressInfo).port), MCP_DATA_DIR: path.join(work, "data"), MCP_WORKING_DIR: work })
      expectOneLine(result, "address already in use", "server.port", "MCP_PORT")
    } finally {
      blocker.close()
    }
  })
})

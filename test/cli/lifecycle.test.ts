/** The real server process: in-flight calls finish on SIGTERM, and an acknowledged key survives SIGKILL. */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")
const adminKey = "admin-key-for-lifecycle-tests-0123456789"

const children: Array<ChildProcessWithoutNullStreams> = []
const folders: Array<string> = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

const tempDir = () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-lifecycle-")))
  folders.push(dir)
  return dir
}

/**
 * Starts `serve` on a free port and resolves with its URL once it listens (bounded). The working folder
 * (dir/work, created on start) and the data dir (dir/.data) are siblings: a working folder holding the data
 * dir would have execute_command refuse to run in it.
 */
const serve = (dir: string, env: Record<string, string> = {}) =>
  new Promise<{ readonly child: ChildProcessWithoutNullStreams; readonly url: string; readonly exited: Promise<number | null> }>((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MCP_")))
    const child = spawn(nodeBin, ["src/main.ts", "serve"], {
      cwd: root,
      env: { ...base, MCP_PORT: "0", MCP_HOST: "127.0.0.1", MCP_WORKING_DIR: path.join(dir, "work"), MCP_DATA_DIR: path.join(dir, ".data"), MCP_ADMIN_KEY: adminKey, MCP_LOG_CONSOLE: "true", ...env }
    })
    children.push(child)
    const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)))
    let output = ""
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${output}`)), 20_000)
    child.stdout.on("data", (chunk) => {
      output += String(chunk)
      const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (found) {
        clearTimeout(timer)
        resolve({ child, url: found[1]!, exited })
      }
    })
  })

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" }, body: JSON.stringify(body) })

describe("the server process", () => {
  it("lets an in-flight tool call finish on SIGTERM, then exits 0", async () => {
    const dir = tempDir()
    const server = await serve(dir, { MCP_ALLOWED_COMMANDS: "sleep" })
    const call = post(`${server.url}/api/mcp/jsonrpc`, {
      jsonrpc: "2.0",
      id: 1,
      method: "tools/call",
      params: { name: "execute_command", arguments: { command: "sleep", args: ["1"] } }
    })
    // the call is running when the signal arrives
    await new Promise((resolve) => setTimeout(resolve, 300))
    server.child.kill("SIGTERM")
    const reply = (await (await call).json()) as { result: { isError: boolean; structuredContent: { exitCode: number } } }
    expect(reply.result.isError).toBe(false)
    expect(reply.result.structuredContent.exitCode).toBe(0)
    expect(await server.exited).toBe(0)
  })

  it("keeps an acknowledged API key through a SIGKILL", async () => {
    const dir = tempDir()
    const first = await serve(dir)
    const created = await post(`${first.url}/config`, { "security.createApiKey": { name: "durable", permissions: ["read"] } })
    expect(created.status).toBe(201)
    const { key } = (await created.json()) as { key: string }
    first.child.kill("SIGKILL")
    await first.exited
    const second = await serve(dir)
    const tools = await fetch(`${second.url}/api/tools`, { headers: { authorization: `Bearer ${key}` } })
    expect(tools.status).toBe(200)
    second.child.kill("SIGTERM")
    expect(await second.exited).toBe(0)
  })
})

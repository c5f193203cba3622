/**
 * A method named like a property every JavaScript object has (constructor, toString, __proto__, ...) is
 * an unknown method like any other: -32601 on every transport, in a batch or alone, as a request or a
 * notification; it never fails the request with a 500, hangs the batch it is in, or ends a stdio router.
 */
import { spawn } from "node:child_process"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import * as fs from "node:fs"
import { ADMIN, makeTempDir, nodeBin, root, type RunningServer, stop, within } from "../security/support.ts"
import { openSession, postMcp, readFor, sessionless, startWithFixture } from "./support.ts"

const names = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "isPrototypeOf", "propertyIsEnumerable", "toLocaleString", "__defineGetter__", "__lookupSetter__"]

let server: RunningServer
beforeAll(async () => {
  server = await startWithFixture()
}, 60_000)
afterAll(() => stop(server))

const jsonRpc = (body: unknown) =>
  fetch(`${server.url}/api/mcp/jsonrpc`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) })

describe("HTTP", () => {
  it("/mcp in a session: -32601 for each name", async () => {
    const session = await openSession(server, ADMIN)
    for (const method of names) {
      const reply = await postMcp(server, ADMIN, { jsonrpc: "2.0", id: 1, method }, session)
      expect({ method, status: reply.status }).toEqual({ method, status: 200 })
      expect(await reply.json()).toMatchObject({ id: 1, error: { code: -32601 } })
    }
  })

  it("/mcp sessionless: -32601 for each name", async () => {
    for (const method of names) {
      const reply = await postMcp(server, ADMIN, { jsonrpc: "2.0", id: 1, method }, sessionless)
      expect({ method, status: reply.status }).toEqual({ method, status: 200 })
      expect(await reply.json()).toMatchObject({ id: 1, error: { code: -32601 } })
    }
  })

  it("/api/mcp/jsonrpc: -32601 (404) for each name, and a notification of it gets 204", async () => {
    for (const method of names) {
      const reply = await jsonRpc({ jsonrpc: "2.0", id: 1, method })
      expect({ method, status: reply.status }).toEqual({ method, status: 404 })
      expect(await reply.json()).toMatchObject({ id: 1, error: { code: -32601 } })
      const note = await jsonRpc({ jsonrpc: "2.0", method })
      expect({ method, status: note.status }).toEqual({ method, status: 204 })
    }
  })

  it("a batch with one of them still answers its other requests", async () => {
    const session = await openSession(server, ADMIN)
    const reply = await postMcp(server, ADMIN, [{ jsonrpc: "2.0", id: 1, method: "ping" }, { jsonrpc: "2.0", id: 2, method: "constructor" }], session)
    expect(reply.status).toBe(200)
    expect(await reply.json()).toEqual([{ jsonrpc: "2.0", id: 1, result: {} }, expect.objectContaining({ id: 2, error: expect.objectContaining({ code: -32601 }) })])
  })

  it("a batch with an upstream call and one of them is answered, not left hanging", async () => {
    const session = await openSession(server, ADMIN)
    const started = Date.now()
    const text = await readFor(
      postMcp(server, ADMIN, [{ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "test_simple_text", arguments: {} } }, { jsonrpc: "2.0", id: 2, method: "toString" }], session, 6_000),
      6_000
    )
    expect(Date.now() - started).toBeLessThan(5_000)
    expect(text).toContain("-32601")
    expect(text).toContain(`"id":1`)
  }, 10_000)
})

describe("stdio", () => {
  it("the router answers -32601 and keeps serving", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env }
    for (const name of Object.keys(env)) if (name.startsWith("MCP_")) delete env[name]
    const dirs = [makeTempDir("attack-stdio-data-"), makeTempDir("attack-stdio-work-")]
    const child = spawn(nodeBin, ["src/main.ts", "stdio"], {
      cwd: root,
      env: { ...env, MCP_DATA_DIR: dirs[0], MCP_WORKING_DIR: dirs[1] },
      stdio: ["pipe", "pipe", "pipe"]
    })
    try {
      let stdout = ""
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
      const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)))
      const lines = [
        { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "a", version: "1" } } },
        ...names.map((method, i) => ({ jsonrpc: "2.0", id: 10 + i, method })),
        { jsonrpc: "2.0", id: 99, method: "ping" }
      ]
      child.stdin.write(lines.map((l) => JSON.stringify(l)).join("\n") + "\n")
      const answered = await Promise.race([
        (async () => {
          while (!stdout.includes(`"id":99`) && child.exitCode === null) await new Promise((r) => setTimeout(r, 50))
          return child.exitCode === null
        })(),
        exited.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 12_000))
      ])
      expect(answered).toBe(true)
      const replies = stdout.trim().split("\n").map((l) => JSON.parse(l))
      for (const [i, method] of names.entries()) {
        expect({ method, reply: replies.find((r) => r.id === 10 + i) }).toMatchObject({ method, reply: { error: { code: -32601 } } })
      }
      child.stdin.end()
      await within(exited, "the stdio router to end", 10_000)
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL")
      for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 20_000)
})

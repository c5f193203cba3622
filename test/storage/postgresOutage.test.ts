/**
 * The PostgreSQL server going away under a running router (a proxy in front of it is cut): readiness
 * answers 503 naming the PostgreSQL store, key changes are refused with 503 naming it, tool calls fail
 * closed as the audit rules say (-32050), and the process keeps running; once the server is back the
 * router is ready again, keys can be changed, and configuration notices arrive again. A router that
 * cannot reach the server at start stops with one line naming storage.url.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ADMIN_KEY,
  call,
  createDatabase,
  eventually,
  makeTempDir,
  postConfig,
  postgresUrl,
  removeDir,
  type RouterProcess,
  skipMessage,
  startProxy,
  startRouter,
  toolCall
} from "./support.ts"
import { spawnSync } from "node:child_process"
import * as path from "node:path"

describe.skipIf(postgresUrl === undefined)(`losing the PostgreSQL store ${postgresUrl === undefined ? `(${skipMessage})` : ""}`, () => {
  let database: Awaited<ReturnType<typeof createDatabase>>
  let proxy: Awaited<ReturnType<typeof startProxy>>
  let workingDir: string
  /** Reaches the server through the proxy. */
  let a: RouterProcess
  /** Reaches it directly: it keeps working while A's way to the server is cut. */
  let b: RouterProcess

  beforeAll(async () => {
    database = await createDatabase("router_outage")
    proxy = await startProxy(database.url)
    workingDir = makeTempDir("mcp-router-pg-work-")
    a = await startRouter(proxy.via(database.url), workingDir)
    b = await startRouter(database.url, workingDir)
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await proxy?.close()
    await database?.drop()
    if (workingDir !== undefined) removeDir(workingDir)
  })

  it("is unready naming the store, refuses key changes and tool calls with 503, keeps running, and recovers", async () => {
    expect((await call(`${a.url}/health/ready`)).status).toBe(200)
    expect((await toolCall(a, ADMIN_KEY, "list_directory", { path: "." })).status).toBe(200)

    await proxy.cut()

    const ready = await call(`${a.url}/health/ready`)
    expect(ready.status).toBe(503)
    expect(ready.json.reasons).toContain("storage: the PostgreSQL store failed to answer SELECT 1")
    // anonymous probes learn the kind of store, never its address
    expect(ready.text).not.toContain(new URL(database.url).port)

    const created = await postConfig(a, { "security.createApiKey": { name: "during the outage", permissions: ["read"] } })
    expect(created.status).toBe(503)
    expect(created.json.error.code).toBe("storage_unavailable")
    expect(created.json.error.message).toContain("PostgreSQL at 127.0.0.1:")
    expect(created.json.error.message).toContain("API keys cannot be created, revoked or checked")
    expect(created.text).not.toContain(new URL(database.url).password + "@")

    // the audit store fails closed: the call is refused (or, its entry unwritten, answered with the audit error)
    const refused = await toolCall(a, ADMIN_KEY, "list_directory", { path: "." })
    expect(refused.status).toBe(503)
    expect(refused.json.error.code).toBe(-32050)
    await eventually(async () => {
      const reasons = (await call(`${a.url}/health/ready`)).json.reasons as ReadonlyArray<string>
      return reasons.some((reason) => reason.startsWith("audit: entries cannot be written (the database server cannot be reached)"))
    })
    expect(a.child.exitCode).toBeNull()

    await proxy.restore()
    // the audit probe writes the kept entries within its interval (2 s); then everything is back
    await eventually(async () => (await call(`${a.url}/health/ready`)).status === 200, 10_000, 100)
    expect((await postConfig(a, { "security.createApiKey": { name: "after the outage", permissions: ["read"] } })).status).toBe(201)
    expect((await toolCall(a, ADMIN_KEY, "list_directory", { path: "." })).json.result.isError).toBe(false)
    // A listens again for configuration notices: a change made on B reaches it
    expect((await postConfig(b, { "tools.timeout": 34_567 })).status).toBe(200)
    await eventually(async () => (await call(`${a.url}/config`, { key: ADMIN_KEY })).json.config.tools.timeout === 34_567, 10_000, 100)
    expect(a.child.exitCode).toBeNull()
  })
})

describe("a router that cannot reach its PostgreSQL store at start", () => {
  it("stops with one line naming storage.url and the store, never the password", () => {
    const root = path.resolve(import.meta.dirname, "../..")
    const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MCP_")))
    const workingDir = makeTempDir("mcp-router-pg-work-")
    try {
      const run = spawnSync(nodeBin, ["src/main.ts", "serve"], {
        cwd: root,
        encoding: "utf8",
        timeout: 30_000,
        env: {
          ...base,
          MCP_PORT: "0",
          MCP_HOST: "127.0.0.1",
          MCP_WORKING_DIR: workingDir,
          MCP_DATA_DIR: path.join(workingDir, "..", path.basename(workingDir) + "-data"),
          // nothing listens on port 1
          MCP_STORAGE_URL: "postgres://router:secret-password@127.0.0.1:1/routerdb",
          MCP_ADMIN_KEY: ADMIN_KEY
        }
      })
      expect(run.status).toBe(1)
      const lines = run.stderr.trim().split("\n")
      expect(lines).toHaveLength(1)
      expect(lines[0]).toContain("storage.url: PostgreSQL at 127.0.0.1:1/routerdb cannot be used")
      expect(lines[0]).toContain("ECONNREFUSED")
      expect(lines[0]).toContain("MCP_STORAGE_URL")
      expect(run.stderr + run.stdout).not.toContain("secret-password")
    } finally {
      removeDir(workingDir)
    }
  })
})

/**
 * Helpers of the PostgreSQL storage tests: a database of their own on the test server (created and
 * dropped per test file), real router processes on it, a TCP proxy in front of the server that a test
 * can cut (the server "goes away" without stopping the server other tests use), and the CLI.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { admin, postgresUrl, uniqueName } from "../tools/sql/postgresServer.ts"
import { call, type Reply } from "../support/http.ts"
import { makeTempDir } from "../support/server.ts"
import { type RouterProcess, startServeProcess } from "../support/serveProcess.ts"

export { postgresUrl, skipMessage } from "../tools/sql/postgresServer.ts"
export { call, makeTempDir, type Reply }

const root = path.resolve(import.meta.dirname, "../..")
/** The sources need Node 24: under `npx vitest` this process is it, else the project's own node binary. */
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

export const ADMIN_KEY = "admin-key-for-postgres-tests-0123456789"

/** A new, empty database on the test server; `drop` removes it (and ends its connections). */
export const createDatabase = async (prefix = "mcp_router_store") => {
  const name = uniqueName(prefix).toLowerCase()
  await Effect.runPromise(admin(`CREATE DATABASE ${name}`))
  const url = new URL(postgresUrl!)
  url.pathname = `/${name}`
  return {
    name,
    url: url.toString(),
    /** Runs one statement in this database, outside the router. */
    query: (sql: string, params: ReadonlyArray<unknown> = []) => Effect.runPromise(adminOn(url.toString(), sql, params)),
    drop: () => Effect.runPromise(admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
  }
}

const adminOn = (url: string, sql: string, params: ReadonlyArray<unknown>) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* PgClient.make({ url: Redacted.make(url), applicationName: "mcp-router-tests-admin" })
    const connection = yield* client.reserve
    const result = yield* connection.executeRaw(sql, params)
    return (result as { readonly rows: ReadonlyArray<Record<string, unknown>> }).rows
  })).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))

/**
 * A TCP proxy on loopback in front of the PostgreSQL server: `cut()` closes every connection through it
 * and refuses new ones (the server is gone, as far as the routers can tell); `restore()` accepts again.
 */
export const startProxy = async (target: string) => {
  const { hostname, port } = new URL(target)
  const sockets = new Set<net.Socket>()
  let open = true
  const server = net.createServer((client) => {
    if (!open) return client.destroy()
    const upstream = net.connect(Number(port), hostname)
    sockets.add(client)
    sockets.add(upstream)
    const end = () => {
      client.destroy()
      upstream.destroy()
      sockets.delete(client)
      sockets.delete(upstream)
    }
    client.on("error", end).on("close", end)
    upstream.on("error", end).on("close", end)
    client.pipe(upstream)
    upstream.pipe(client)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const proxyPort = (server.address() as net.AddressInfo).port
  let listening = true
  return {
    /** `url` with its host and port replaced by the proxy's. */
    via: (url: string) => {
      const proxied = new URL(url)
      proxied.hostname = "127.0.0.1"
      proxied.port = String(proxyPort)
      return proxied.toString()
    },
    cut: async () => {
      open = false
      for (const socket of sockets) socket.destroy()
      sockets.clear()
      // nothing listens on the port now: a connection attempt is refused
      if (listening) await new Promise<void>((resolve) => server.close(() => resolve()))
      listening = false
    },
    restore: async () => {
      open = true
      if (!listening) await new Promise<void>((resolve, reject) => server.once("error", reject).listen(proxyPort, "127.0.0.1", () => resolve()))
      listening = true
    },
    close: async () => {
      open = false
      for (const socket of sockets) socket.destroy()
      if (listening) await new Promise<void>((resolve) => server.close(() => resolve()))
      listening = false
    }
  }
}

export type { RouterProcess }

/**
 * `mcp-router serve` as a process of its own on a free port, with `storage.url` and the shared working
 * folder; resolves once it listens.
 */
export const startRouter = (storageUrl: string, workingDir: string, env: Record<string, string> = {}) =>
  startServeProcess({
    MCP_WORKING_DIR: workingDir,
    // unused with storage.url: a folder of its own all the same, so nothing lands in the project
    MCP_DATA_DIR: makeTempDir("mcp-router-pg-data-"),
    MCP_STORAGE_URL: storageUrl,
    MCP_ADMIN_KEY: ADMIN_KEY,
    MCP_MAX_REQUESTS_PER_MINUTE: "100000",
    MCP_MAX_REQUESTS_PER_HOUR: "1000000",
    ...env
  })

/** Runs the CLI (`mcp-router ...`) with storage.url; its exit code and output. */
export const runCli = (storageUrl: string, args: ReadonlyArray<string>) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MCP_")))
    const child = spawn(nodeBin, ["src/main.ts", ...args], {
      cwd: root,
      env: { ...base, MCP_STORAGE_URL: storageUrl, MCP_DATA_DIR: makeTempDir("mcp-router-pg-cli-"), MCP_LOG_CONSOLE: "false" }
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += String(chunk)))
    child.stderr.on("data", (chunk) => (stderr += String(chunk)))
    child.once("exit", (code) => resolve({ code, stdout, stderr }))
  })

/** POST /config with the admin key. */
export const postConfig = (router: { readonly url: string }, body: unknown, key: string = ADMIN_KEY) =>
  call(`${router.url}/config`, { key, body })

/** Polls `check` until it returns true (or throws its last failure after `timeoutMs`). */
export const eventually = async (check: () => Promise<boolean>, timeoutMs = 5_000, everyMs = 50): Promise<number> => {
  const started = Date.now()
  while (true) {
    if (await check()) return Date.now() - started
    if (Date.now() - started > timeoutMs) throw new Error(`not within ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

/** A tools/call over /api/mcp/jsonrpc with a key. */
export const toolCall = (router: { readonly url: string }, key: string, name: string, args: unknown, id: number = 1) =>
  call(`${router.url}/api/mcp/jsonrpc`, { key, body: { jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } } })

export const removeDir = (dir: string) => fs.rmSync(dir, { recursive: true, force: true })

/** Helpers of the security tests: servers that are always closed, plain HTTP calls, keys made over POST /config. */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as http from "node:http"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"
import { makeTempDir, type RunningServer, startServer } from "../support/server.ts"

export { makeTempDir, type RunningServer }

export const root = fileURLToPath(new URL("../../", import.meta.url))
/** The sources need Node 24: under `npx vitest` this process is it, else the project's own node binary. */
export const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

/** An admin key of the tests (>= 24 characters), configured as security.adminKey. */
export const ADMIN = "test-admin-key-0123456789abcdef"
export const keyPattern = /^mcp_[A-Za-z0-9_-]{43}$/
const TIMEOUT_MS = 10_000

const servers: Array<RunningServer> = []
const dirs: Array<string> = []
const children: Array<ChildProcess> = []

/** Closes every server, child process and temp dir a test made. Call once at the top of a test file. */
export const cleanupAfterEach = () =>
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
    await Promise.all(servers.splice(0).map((s) => s.close()))
    for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
  })

export const tempDir = (prefix = "mcp-sec-") => {
  const dir = makeTempDir(prefix)
  dirs.push(dir)
  return dir
}

/** A server closed after the test; `secure` turns keys on with the admin key. */
export const start = async (config: Record<string, any> = {}, secure = true) => {
  const server = await startServer(secure ? { ...config, security: { requireApiKey: true, adminKey: ADMIN, ...config.security } } : config)
  servers.push(server)
  return server
}

/** Closes a server before the test ends (the cleanup skips it). */
export const stop = async (server: RunningServer) => {
  servers.splice(servers.indexOf(server), 1)
  await server.close()
}

import { call } from "../support/http.ts"
import { eventually } from "../support/polling.ts"
export { call, type Reply } from "../support/http.ts"

export const rpc = (method: string, params?: unknown, id: number | string = 1) => ({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) })

/** A JSON-RPC call at /api/mcp/jsonrpc. */
export const jsonRpc = (server: RunningServer, key: string | undefined, method: string, params?: unknown) =>
  call(`${server.url}/api/mcp/jsonrpc`, { key, body: rpc(method, params) })

/** An MCP initialize POST at /mcp. */
export const mcpInitialize = (server: RunningServer, init: { readonly key?: string | undefined; readonly headers?: Record<string, string> } = {}) =>
  call(`${server.url}/mcp`, {
    ...init,
    headers: { accept: "application/json, text/event-stream", ...init.headers },
    body: rpc("initialize", { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "security-test", version: "1" } })
  })

export interface KeyReply {
  readonly key: string
  readonly id: string
  readonly [field: string]: any
}

/** security.createApiKey over POST /config with the admin key. */
export const createKey = async (
  server: RunningServer,
  params: { readonly name?: string; readonly permissions: ReadonlyArray<string>; readonly expiresAt?: string; readonly ratePerMinute?: number },
  admin = ADMIN
): Promise<KeyReply> => {
  const reply = await call(`${server.url}/config`, { key: admin, body: { "security.createApiKey": { name: "test", ...params } } })
  if (reply.status !== 201) throw new Error(`createApiKey answered ${reply.status}: ${reply.text}`)
  return reply.json
}

export const revokeKey = (server: RunningServer, id: string, admin = ADMIN) =>
  call(`${server.url}/config`, { key: admin, body: { "security.revokeApiKey": { id } } })

/** A raw request (custom Host header, chunked bodies), answered with status, headers and body. */
export const rawRequest = (
  url: string,
  options: http.RequestOptions & { readonly body?: string }
): Promise<{ status: number; headers: http.IncomingHttpHeaders; text: string }> =>
  new Promise((resolve, reject) => {
    const request = http.request(url, { ...options, timeout: TIMEOUT_MS }, (response) => {
      let text = ""
      response.setEncoding("utf8").on("data", (chunk: string) => (text += chunk))
      response.on("end", () => resolve({ status: response.statusCode!, headers: response.headers, text }))
      response.on("error", reject)
    })
    request.on("timeout", () => request.destroy(new Error("request timed out")))
    request.on("error", reject)
    request.end(options.body)
  })

export { eventually }

export interface Cli {
  readonly process: ChildProcess
  readonly output: { stdout: string; stderr: string }
  readonly exited: Promise<number | null>
}

/** This process's environment without MCP_* variables, plus `extra`. */
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith("MCP_")) delete env[name]
  return { ...env, MCP_LOG_CONSOLE: "true", ...extra }
}

/** `node src/main.ts ...args` in a clean environment; killed after the test. */
export const spawnCli = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Cli => {
  const child = spawn(nodeBin, ["src/main.ts", ...args], { cwd: root, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
  children.push(child)
  const output = { stdout: "", stderr: "" }
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk))
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (code) => resolve(code))
  })
  return { process: child, output, exited }
}

/** Resolves when `exited` settles or rejects after a bound. */
export const within = <A>(promise: Promise<A>, what: string, ms = 20_000): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** The URL a served CLI process prints once it listens. */
export const listeningUrl = async (cli: Cli): Promise<string> => {
  const found = await eventually(async () => /listening on (http:\/\/[^\s";]+)/.test(cli.output.stdout) || cli.process.exitCode !== null, 20_000)
  const match = cli.output.stdout.match(/listening on (http:\/\/[^\s";]+)/)
  if (!found || match === null) throw new Error(`no listening line\nstdout: ${cli.output.stdout}\nstderr: ${cli.output.stderr}`)
  return match[1]!
}

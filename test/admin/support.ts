/** Helpers of the admin tests: secured servers on their own data folder, HTTP calls with a key, the CLI, the SQLite file. */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { databaseFile } from "../../src/storage/Database.ts"
import { makeTempDir, type RunningServer, startServer } from "../support/server.ts"

export { makeTempDir, type RunningServer }

export const root = fileURLToPath(new URL("../../", import.meta.url))
/** The sources need Node 24: under `npx vitest` this process is it, else the project's own node binary. */
export const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

export const ADMIN_KEY = "admin-key-for-tests-0123456789"
export const keyPattern = /^mcp_[A-Za-z0-9_-]{43}$/
/** Any line of a stack trace. */
export const stackLine = /^\s+at /m
const WAIT_MS = 20_000

export interface AdminServer extends RunningServer {
  readonly dataDir: string
  /** Closes the server, keeping the data folder (for reading the SQLite file). */
  readonly stop: () => Promise<void>
  /** Closes the server if still running and removes the data folder. */
  readonly dispose: () => Promise<void>
}

/** A server with API keys required, the admin key configured and a data folder owned by the test. */
export const startAdminServer = async (config: Record<string, any> = {}): Promise<AdminServer> => {
  const dataDir = makeTempDir("mcp-admin-data-")
  let server: RunningServer
  try {
    server = await startServer({
      ...config,
      security: { requireApiKey: true, adminKey: ADMIN_KEY, maxRequestsPerMinute: 100_000, maxRequestsPerHour: 1_000_000, ...config.security },
      storage: { dataDir }
    })
  } catch (error) {
    fs.rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  let open = true
  const stop = async () => {
    if (!open) return
    open = false
    await server.close()
  }
  return { ...server, dataDir, stop, dispose: async () => {
    try {
      await stop()
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true })
    }
  } }
}

import { call } from "../support/http.ts"
export { call, type Reply } from "../support/http.ts"

/** POST /config with the admin key (or another). */
export const postConfig = (server: RunningServer, body: unknown, key: string = ADMIN_KEY) => call(`${server.url}/config`, { key, body })

/** GET /config's configuration, with the admin key. */
export const getConfig = async (server: RunningServer): Promise<any> => {
  const reply = await call(`${server.url}/config`, { key: ADMIN_KEY })
  if (reply.status !== 200) throw new Error(`GET /config answered ${reply.status}: ${reply.text}`)
  return reply.json.config
}

/** security.createApiKey over POST /config; throws unless 201. */
export const createKey = async (
  server: RunningServer,
  params: { readonly name?: string; readonly permissions: ReadonlyArray<string>; readonly ratePerMinute?: number; readonly ratePerHour?: number }
): Promise<{ readonly key: string; readonly id: string; readonly [field: string]: any }> => {
  const reply = await postConfig(server, { "security.createApiKey": { name: "test", ...params } })
  if (reply.status !== 201) throw new Error(`createApiKey answered ${reply.status}: ${reply.text}`)
  return reply.json
}

/** The id of the admin key stored from security.adminKey. */
export const adminKeyId = async (server: RunningServer): Promise<string> => {
  const reply = await postConfig(server, { "security.listApiKeys": {} })
  const admin = reply.json.keys.find((k: any) => k.name === "admin (MCP_ADMIN_KEY)")
  if (admin === undefined) throw new Error(`no admin key in ${reply.text}`)
  return admin.id
}

/** tools/call at /api/mcp/jsonrpc. */
export const callTool = (server: RunningServer, key: string, name: string, args: Record<string, unknown>) =>
  call(`${server.url}/api/mcp/jsonrpc`, { key, body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } } })

/** GET /api/audit with a query string, with the admin key. */
export const audit = (server: RunningServer, query: Record<string, string | number> = {}, key: string = ADMIN_KEY) =>
  call(`${server.url}/api/audit?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`, { key })

/** Runs `fn` on the router's SQLite file in the data folder (the server should be stopped when writing). */
export const withDatabase = <A>(dataDir: string, fn: (db: DatabaseSync) => A): A => {
  const db = new DatabaseSync(databaseFile(dataDir))
  try {
    return fn(db)
  } finally {
    db.close()
  }
}

/** Every row of a table, as one JSON text (to look for strings anywhere in it). */
export const tableText = (dataDir: string, table: string) => {
  const db = new DatabaseSync(databaseFile(dataDir), { readOnly: true })
  try {
    return JSON.stringify(db.prepare(`SELECT * FROM ${table}`).all())
  } finally {
    db.close()
  }
}

/** This process's environment without any MCP_* variable, plus `extra`. */
export const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(env)) if (name.startsWith("MCP_")) delete env[name]
  return { ...env, ...extra }
}

/** `node src/main.ts ...args` to completion (killed past a bound), in a clean environment plus `env`. */
export const runCli = (args: ReadonlyArray<string>, env: Record<string, string>) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((resolve, reject) => {
    const child = spawn(nodeBin, ["src/main.ts", ...args], { cwd: root, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`mcp-router ${args.join(" ")} did not exit within ${WAIT_MS} ms\nstdout: ${stdout}\nstderr: ${stderr}`))
    }, WAIT_MS)
    child.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.once("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

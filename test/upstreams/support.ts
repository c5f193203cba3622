/**
 * Helpers of the upstream tests: routers and MCP clients closed after each test, fixture and official server
 * scripts, child processes found by a unique marker folder in their command line, bounded polling.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach } from "vitest"
import { call } from "../support/http.ts"
import { makeTempDir, type RunningServer, startServer } from "../support/server.ts"

export type { RunningServer }

export const root = fileURLToPath(new URL("../../", import.meta.url))
export const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))
export const filesystemServer = path.join(root, "node_modules/@modelcontextprotocol/server-filesystem/dist/index.js")
export const everythingServer = path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js")
/** Every wait of these tests ends after this long at most. */
export const WAIT_MS = 20_000

const servers: Array<RunningServer> = []
const clients: Array<Client> = []
const markers: Array<string> = []
const cleanups: Array<() => unknown> = []

/** Closes the tests' clients, routers and temp folders; kills any process a test's marker names that is left. */
export const cleanupAfterEach = () =>
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close().catch(() => undefined)))
    await Promise.all(servers.splice(0).map((s) => s.close()))
    for (const cleanup of cleanups.splice(0)) await cleanup()
    for (const marker of markers.splice(0)) {
      for (const pid of processesWith(marker)) kill(pid, "SIGKILL")
      fs.rmSync(marker, { recursive: true, force: true })
    }
  })

/** Runs `cleanup` after the test, after the routers are closed. */
export const onCleanup = (cleanup: () => unknown) => void cleanups.push(cleanup)

/** A unique temp folder: passed as an argument to a server, it finds that server's processes. */
export const markerDir = (prefix = "mcp-upstream-") => {
  const dir = makeTempDir(prefix)
  markers.push(dir)
  return dir
}

/** A router closed after the test; rate limits out of the way of polling. */
export const start = async (config: Record<string, any> = {}) => {
  const server = await startServer({ ...config, security: { maxRequestsPerMinute: 1_000_000, maxRequestsPerHour: 1_000_000, ...config.security } })
  servers.push(server)
  return server
}

/** Closes a router before the test ends. */
export const stop = async (server: RunningServer) => {
  servers.splice(servers.indexOf(server), 1)
  await server.close()
}

export const stdio = (script: string, ...args: Array<string>) => ({ type: "stdio", command: process.execPath, args: [script, ...args] })

const kill = (pid: number, signal: NodeJS.Signals) => {
  try {
    process.kill(pid, signal)
  } catch {
    // already gone
  }
}

/** Pids of the live (not zombie) processes whose command line contains `text`. */
export const processesWith = (text: string): Array<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).map(Number).filter((pid) => {
    if (pid === process.pid) return false
    try {
      if (/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"))) return false
      return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(text)
    } catch {
      return false
    }
  })

/** The pids a fixture server recorded in its marker folder (one per start). */
export const recordedPids = (marker: string): Array<number> =>
  fs.readdirSync(marker).filter((f) => f.endsWith(".pid")).map((f) => Number(f.slice(0, -4)))

/** What the process `pid` read on stdin, as JSON-RPC messages. */
export const receivedBy = (marker: string, pid: number): Array<any> => {
  const file = path.join(marker, `${pid}.in`)
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, "utf8").split("\n").filter((l) => l.trim() !== "").flatMap((l) => {
    try {
      return [JSON.parse(l)]
    } catch {
      return []
    }
  })
}

/** Polls `check` every `everyMs` until it returns something other than undefined/false; fails naming `what` after `ms`. */
export const waitFor = async <A>(what: string, check: () => A | Promise<A>, ms = WAIT_MS, everyMs = 50): Promise<Exclude<A, undefined | false>> => {
  const deadline = Date.now() + ms
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined && value !== false) return value as Exclude<A, undefined | false>
    } catch (error) {
      last = error
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last === undefined ? "" : `: ${String(last)}`}`)
    await new Promise((resolve) => setTimeout(resolve, everyMs))
  }
}

export const request = (url: string, init: { readonly body?: unknown; readonly key?: string } = {}) => call(url, { ...init, timeoutMs: WAIT_MS })

export interface Status {
  readonly name: string
  readonly state: string
  readonly tools: Array<string>
  readonly lastError: string | null
  readonly latencyMs: number | null
  readonly reconnectAttempts: number
  readonly [field: string]: unknown
}

export const upstreams = async (server: RunningServer, key?: string): Promise<Array<Status>> => {
  const reply = await request(`${server.url}/api/upstreams`, key === undefined ? {} : { key })
  if (reply.status !== 200) throw new Error(`GET /api/upstreams answered ${reply.status}: ${reply.text}`)
  return reply.json.upstreams
}

export const upstream = async (server: RunningServer, name: string, key?: string) => (await upstreams(server, key)).find((u) => u.name === name)

/** Waits until upstream `name` is up, and returns its status. */
export const whenUp = (server: RunningServer, name: string, key?: string) =>
  waitFor(`upstream ${name} up`, async () => {
    const status = await upstream(server, name, key)
    return status?.state === "up" ? status : undefined
  })

/** POST /config with upstream changes; throws unless applied. */
export const setUpstreams = async (server: RunningServer, list: ReadonlyArray<Record<string, unknown>>, key?: string) => {
  const reply = await request(`${server.url}/config`, { body: { upstreams: list }, ...(key === undefined ? {} : { key }) })
  if (reply.status !== 200) throw new Error(`POST /config answered ${reply.status}: ${reply.text}`)
  return reply.json
}

/** An official SDK client on the router's /mcp, closed after the test. */
export const mcpClient = async (server: RunningServer, key?: string) => {
  const client = new Client({ name: "upstream-tests", version: "1.0.0" })
  const transport = new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), {
    ...(key === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${key}` } } })
  })
  clients.push(client)
  await client.connect(transport, { timeout: WAIT_MS })
  return client
}

export const toolNames = async (client: Client) => (await client.listTools(undefined, { timeout: WAIT_MS })).tools.map((t) => t.name)

export const text = (result: any): string => (result.content ?? []).map((c: any) => c.text ?? "").join("\n")

/** A port that was free a moment ago. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

/** The admin key of the tests that turn keys on. */
export const ADMIN = "upstream-test-admin-key-0123456789"
export const secured = (config: Record<string, any>) => ({ ...config, security: { requireApiKey: true, adminKey: ADMIN } })

let rpcId = 0
/** A JSON-RPC call at /api/mcp/jsonrpc (the Router's own path, like /mcp's): its result, or its error. */
export const rpc = async (server: RunningServer, method: string, params?: unknown, key?: string, signal?: AbortSignal) => {
  const response = await fetch(`${server.url}/api/mcp/jsonrpc`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) },
    body: JSON.stringify({ jsonrpc: "2.0", id: ++rpcId, method, ...(params === undefined ? {} : { params }) }),
    signal: signal ?? AbortSignal.timeout(WAIT_MS)
  })
  return (await response.json()) as { result?: any; error?: { code: number; message: string; data?: unknown } }
}

/** The tools the router offers this caller (tools/list over JSON-RPC). */
export const toolList = async (server: RunningServer, key?: string): Promise<Array<any>> => {
  const reply = await rpc(server, "tools/list", undefined, key)
  if (reply.result === undefined) throw new Error(`tools/list failed: ${JSON.stringify(reply.error)}`)
  return reply.result.tools
}

export const listed = async (server: RunningServer, key?: string): Promise<Array<string>> =>
  (await toolList(server, key)).map((t: { name: string }) => t.name)

export const callTool = (server: RunningServer, name: string, args: Record<string, unknown> = {}, key?: string) =>
  rpc(server, "tools/call", { name, arguments: args }, key)

/** server-everything on Streamable HTTP, killed after the test; its /mcp URL. */
export const httpEverything = async () => {
  const port = await freePort()
  const child = spawn(process.execPath, [everythingServer, "streamableHttp"], { env: { ...process.env, PORT: String(port) }, stdio: ["ignore", "ignore", "pipe"] })
  onCleanup(() => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  }))
  let stderr = ""
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  await waitFor("server-everything to listen", () => stderr.includes(`listening on port ${port}`))
  return `http://127.0.0.1:${port}/mcp`
}

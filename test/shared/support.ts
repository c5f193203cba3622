/**
 * Helpers of the tests of routers sharing Redis: the test Redis server (MCP_TEST_REDIS_URL, from
 * .ci/redis.sh) or one of a test's own (Debian's redis-server binary, for tests that kill it), router
 * processes (`node src/main.ts serve`) on a config file of the test's, and requests with a client
 * address of the test's (X-Forwarded-For from a trusted proxy), so that each test has a rate limit of
 * its own.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { createClient } from "redis"
import { afterAll } from "vitest"
import { call, type Reply } from "../support/http.ts"
import { makeTempDir } from "../support/server.ts"
import { nodeBin, root } from "../security/support.ts"
import { eventually, sleep } from "../support/polling.ts"

export { call, type Reply }

/** Under CI the Redis tests must run: a missing server is a failure there, a skip elsewhere. */
export const inCi = process.env["CI"] === "true" || process.env["CI"] === "1"

/** The test server's URL without a database; undefined when .ci/redis.sh did not run. */
export const testRedisUrl = process.env["MCP_TEST_REDIS_URL"]?.replace(/\/\d*$/u, "") || undefined

/** The path of redis-server, or undefined. */
export const redisServerBinary = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
})()

/** A database of the test server for one test file (channels are named after it too): emptied first. */
export const testDatabase = async (database: number): Promise<string> => {
  if (testRedisUrl === undefined) throw new Error("MCP_TEST_REDIS_URL is not set: start a server with `bash .ci/redis.sh` and export its URL")
  const url = `${testRedisUrl}/${database}`
  await flushDatabase(url)
  return url
}

export const flushDatabase = async (url: string) => {
  const client = createClient({ url })
  await client.connect()
  try {
    await client.flushDb()
  } finally {
    client.destroy()
  }
}

/** The keys of a database matching `pattern`. */
export const redisKeys = async (url: string, pattern: string): Promise<Array<string>> => {
  const client = createClient({ url })
  await client.connect()
  try {
    return await client.keys(pattern)
  } finally {
    client.destroy()
  }
}

const cleanups: Array<() => Promise<void> | void> = []
/** Stops every router and Redis server a file started, after all its tests. Call once at the top. */
export const cleanupAfterAll = () =>
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

const answersPing = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.setTimeout(1_000)
    socket.once("connect", () => socket.write("PING\r\n"))
    socket.once("data", (data) => {
      socket.destroy()
      resolve(data.toString().startsWith("+PONG"))
    })
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => {
      socket.destroy()
      resolve(false)
    })
  })

export interface OwnRedis {
  readonly url: string
  /** SIGKILL: the connections drop without a goodbye. */
  readonly kill: () => Promise<void>
  /** Starts it again on the same port (empty: nothing is persisted). */
  readonly restart: () => Promise<void>
  /** SIGSTOP / SIGCONT: the connections stay open, and nothing is answered meanwhile. */
  readonly pause: () => void
  readonly resume: () => void
}

/** A Redis server of the test's own on a free port, stopped after the file. */
export const startOwnRedis = async (): Promise<OwnRedis> => {
  if (redisServerBinary === undefined) throw new Error("redis-server is not installed: run `bash .ci/redis.sh` (it installs Debian's redis-server)")
  const port = await freePort()
  const dir = makeTempDir("mcp-redis-")
  let child: ChildProcess | undefined
  const start = async () => {
    const started = spawn(redisServerBinary!, ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "", "--appendonly", "no"], {
      stdio: "ignore"
    })
    child = started
    const deadline = Date.now() + 10_000
    while (!(await answersPing(port))) {
      if (Date.now() > deadline || started.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const kill = async () => {
    const running = child
    if (running === undefined || running.exitCode !== null || running.signalCode !== null) return
    const exited = new Promise((resolve) => running.once("exit", resolve))
    running.kill("SIGCONT")
    running.kill("SIGKILL")
    await exited
  }
  await start()
  cleanups.push(async () => {
    await kill()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return {
    url: `redis://127.0.0.1:${port}`,
    kill,
    restart: start,
    pause: () => void child?.kill("SIGSTOP"),
    resume: () => void child?.kill("SIGCONT")
  }
}

export interface RouterProcess {
  readonly name: string
  readonly url: string
  readonly child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  readonly output: () => string
}

/**
 * `node src/main.ts serve` on `config` (a config file of the test's) with a working folder of its own and
 * `dataDir` (shared when given: routers on one SQLite file share their keys). Killed after the file.
 */
export const startRouter = async (name: string, config: Record<string, any>, env: Record<string, string> = {}): Promise<RouterProcess> => {
  const dir = makeTempDir(`mcp-replica-${name}-`)
  const file = path.join(dir, "config.json")
  fs.writeFileSync(file, JSON.stringify({
    ...config,
    server: { host: "127.0.0.1", port: 0, ...config.server },
    tools: { workingDir: path.join(dir, "work"), ...config.tools },
    storage: { dataDir: path.join(dir, "data"), ...config.storage }
  }))
  const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MCP_")))
  const child = spawn(nodeBin, ["src/main.ts", "serve", "--config", file], {
    cwd: root,
    env: { ...base, MCP_LOG_CONSOLE: "true", ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk))
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGKILL")
      await exited
    }
    fs.rmSync(dir, { recursive: true, force: true })
  })
  const deadline = Date.now() + 45_000
  for (;;) {
    const found = /listening on (http:\/\/127\.0\.0\.1:\d+)/u.exec(output)
    if (found !== null) return { name, url: found[1]!, child, output: () => output }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`router ${name} did not start:\n${output}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** A client address of the test's, believed from a trusted proxy (security.trustedProxies: ["127.0.0.1"]). */
export const from = (address: string) => ({ "x-forwarded-for": address })

/** A tools/call at /api/mcp/jsonrpc from `address`. */
export const toolCall = (router: { readonly url: string }, address: string, key?: string, tool = "list_directory", args: unknown = { path: "." }) =>
  call(`${router.url}/api/mcp/jsonrpc`, {
    key,
    headers: from(address),
    body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: tool, arguments: args } }
  })

export { eventually, sleep }

/**
 * What the `replicas` scenario needs besides the routers: a Redis server (a redis-server of its own on a
 * free port, or BENCH_REDIS_URL), a PostgreSQL database of its own on the server named by
 * BENCH_POSTGRES_URL (or MCP_TEST_POSTGRES_URL, which .ci/postgres.sh prints), created for the run and
 * dropped after it, and the round-robin TCP proxy (./roundRobinProxy.ts) as a process of its own.
 * Whatever is missing makes the scenario skip, saying what to set.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"
import { freePort, nodeBin, repoRoot, track } from "./servers.ts"

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

export interface SharedStores {
  readonly redisUrl: string
  readonly storageUrl: string
  readonly stop: () => Promise<void>
}

const redisServerBinary = () => {
  try {
    return execFileSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" }).trim() || undefined
  } catch {
    return undefined
  }
}

/** Runs one statement on `url` over a connection of its own. */
const statement = (url: string, sql: string) =>
  Effect.runPromise(Effect.scoped(Effect.gen(function*() {
    const client = yield* PgClient.make({ url: Redacted.make(url), applicationName: "mcp-router-bench" })
    const connection = yield* client.reserve
    yield* connection.executeRaw(sql, [])
  })).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make)))

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
  })

/** A redis-server of the run's own on a free loopback port, nothing persisted. */
const startRedis = async (binary: string) => {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-bench-redis-"))
  const child = track(spawn(binary, ["--bind", "127.0.0.1", "--port", String(port), "--dir", dir, "--save", "", "--appendonly", "no"], { stdio: "ignore" }))
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode}) at start`)
    if (await listening(port)) break
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} within 10 s`)
    await sleep(50)
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      await stopChild(child)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

const stopChild = async (child: ChildProcess) => {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once("exit", resolve))
  child.kill("SIGTERM")
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
  await exited
  clearTimeout(timer)
}

/** Redis and a fresh PostgreSQL database, or why the scenario cannot run. */
export const sharedStores = async (): Promise<SharedStores | { readonly skipped: string }> => {
  const postgres = process.env["BENCH_POSTGRES_URL"] || process.env["MCP_TEST_POSTGRES_URL"] || undefined
  if (postgres === undefined) {
    return { skipped: `no PostgreSQL server: set BENCH_POSTGRES_URL=postgres://user:password@host:port/db (a server started by .ci/postgres.sh: export BENCH_POSTGRES_URL="$(bash .ci/postgres.sh)")` }
  }
  const redisGiven = process.env["BENCH_REDIS_URL"] || undefined
  const binary = redisGiven === undefined ? redisServerBinary() : undefined
  if (redisGiven === undefined && binary === undefined) {
    return { skipped: "no Redis: install redis-server (apt-get install redis-server) or set BENCH_REDIS_URL=redis://host:port (an empty database: the run flushes nothing)" }
  }
  const database = `mcp_router_bench_${process.pid}_${randomBytes(3).toString("hex")}`
  try {
    await statement(postgres, `CREATE DATABASE ${database}`)
  } catch (error) {
    return { skipped: `PostgreSQL at ${new URL(postgres).host} cannot be used: ${error instanceof Error ? error.message : String(error)}` }
  }
  const storage = new URL(postgres)
  storage.pathname = `/${database}`
  const redis = redisGiven === undefined ? await startRedis(binary!) : { url: redisGiven, stop: async () => {} }
  return {
    redisUrl: redis.url,
    storageUrl: storage.toString(),
    stop: async () => {
      await redis.stop()
      await statement(postgres, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`).catch(() => {})
    }
  }
}

/** The round-robin TCP proxy in front of `ports`, as a process of its own; resolves with its URL once it listens. */
export const startProxy = async (ports: ReadonlyArray<number>) => {
  const child = track(spawn(nodeBin, [path.join(repoRoot, "bench/lib/roundRobinProxy.ts"), ...ports.map(String)], { stdio: ["ignore", "pipe", "pipe"] }))
  let output = ""
  child.stdout!.on("data", (chunk) => (output += String(chunk)))
  child.stderr!.on("data", (chunk) => (output += String(chunk)))
  const deadline = Date.now() + 10_000
  for (;;) {
    const found = /listening (\d+)/u.exec(output)
    if (found !== null) return { url: `http://127.0.0.1:${found[1]}`, pid: child.pid!, stop: () => stopChild(child) }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the round-robin proxy did not start: ${output}`)
    await sleep(20)
  }
}

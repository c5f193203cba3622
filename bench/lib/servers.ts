/**
 * The servers under test, as child processes on loopback ports: the router (`node src/main.ts serve`) and
 * the two reference servers. Every child is tracked and killed at the end, on failure and on SIGINT.
 */
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url))

/** Node 24 (the `node` devDependency when the shell's Node is older). */
export const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(repoRoot, "node_modules/.bin/node")

export interface Server {
  readonly name: string
  readonly url: string
  readonly pid: number
  /** Milliseconds from spawn to the first 200 of GET /health/live. */
  readonly startMs: number
  readonly stop: () => Promise<void>
  /** The last output of the process (for error messages). */
  readonly output: () => string
}

const children = new Set<ChildProcess>()

/** Tracks a child started elsewhere (Redis, the proxy of the replicas scenario): killed with the others, and not counted as another process's CPU. */
export const track = (child: ChildProcess) => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

/** Kills every child still running, at once (SIGKILL). Safe to call from an exit handler. */
export const killAll = () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  }
  children.clear()
}

/** A free loopback TCP port (the kernel's choice, released just before the server binds it). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer()
    probe.once("error", reject)
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address()
      probe.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The environment of this process without any MCP_* or BENCH_* variable, plus `extra`. */
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.startsWith("MCP_") && !name.startsWith("BENCH_") && name !== "NODE_OPTIONS") env[name] = value
  }
  return { ...env, ...extra }
}

/** Starts `node args...` and resolves once GET /health/live answers 200 (bounded wait). */
const startProcess = async (name: string, args: ReadonlyArray<string>, env: Record<string, string>, port: number): Promise<Server> => {
  const started = performance.now()
  const child = spawn(nodeBin, args, { cwd: repoRoot, env: cleanEnv(env), stdio: ["pipe", "pipe", "pipe"] })
  children.add(child)
  let output = ""
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString("utf8")).slice(-8192)
  }
  child.stdout!.on("data", keep)
  child.stderr!.on("data", keep)
  child.stdin!.on("error", () => {})
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 30_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it answered:\n${output}`)
    if (Date.now() > deadline) {
      child.kill("SIGKILL")
      throw new Error(`${name} did not answer GET /health/live within 30 s:\n${output}`)
    }
    try {
      const response = await fetch(`${url}/health/live`, { signal: AbortSignal.timeout(1_000) })
      await response.arrayBuffer()
      if (response.status === 200) break
    } catch {
      // not listening yet
    }
    await sleep(10)
  }
  const startMs = performance.now() - started
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      child.stdin!.end()
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000)
      await exited
      clearTimeout(timer)
    }
    children.delete(child)
  }
  return { name, url, pid: child.pid!, startMs, stop, output: () => output }
}

/** The Node flags in bin/mcp-router.js's first line (`#!/usr/bin/env -S node --flag ...`). */
const launcherFlags = fs.readFileSync(path.join(repoRoot, "bin/mcp-router.js"), "utf8").split("\n")[0]!.split(/\s+/).filter((word) => word.startsWith("--"))

export interface RouterSetup {
  readonly adminKey: string
  readonly dataDir: string
  readonly workingDir: string
  readonly configFile: string
}

/**
 * The router as `bin/mcp-router.js` starts it: keys on, rate limits on (at the highest values allowed), logging at warn;
 * `env` adds settings (a replica's MCP_STORAGE_URL and MCP_REDIS_URL).
 */
export const startRouter = async (setup: RouterSetup, env: Record<string, string> = {}, name = "router") => {
  const port = await freePort()
  // the command users run, with the Node flags of its first line: the compiled router (dist/bin/, `npm run
  // build`) when it is current, with V8's compile cache
  return startProcess(name, [...launcherFlags, "bin/mcp-router.js", "serve", "--config", setup.configFile], {
    MCP_PORT: String(port),
    MCP_HOST: "127.0.0.1",
    MCP_REQUIRE_API_KEY: "true",
    MCP_ADMIN_KEY: setup.adminKey,
    MCP_DATA_DIR: setup.dataDir,
    MCP_WORKING_DIR: setup.workingDir,
    MCP_MAX_REQUESTS_PER_MINUTE: "1000000",
    MCP_MAX_REQUESTS_PER_HOUR: "1000000",
    MCP_LOG_LEVEL: "warn",
    ...env
  }, port)
}

/** A reference server of bench/reference/, reading in the same working directory. */
export const startReference = async (name: "sdk" | "bare", workingDir: string) => {
  const port = await freePort()
  const file = name === "sdk" ? "bench/reference/sdkServer.ts" : "bench/reference/bareServer.ts"
  return startProcess(name === "sdk" ? "SDK" : "node:http", [file], { BENCH_PORT: String(port), BENCH_WORKING_DIR: workingDir }, port)
}

/** Resident memory of a process in bytes (VmRSS of /proc/<pid>/status), or undefined once it is gone. */
export const rssOf = (pid: number): number | undefined => {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, "utf8")
    const found = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return found === null ? undefined : Number(found[1]) * 1024
  } catch {
    return undefined
  }
}

/** Samples a process's RSS every `everyMs` until stopped; resolves with the highest value seen. */
export const sampleRss = (pid: number, everyMs = 200) => {
  let peak = rssOf(pid) ?? 0
  const timer = setInterval(() => {
    const rss = rssOf(pid)
    if (rss !== undefined && rss > peak) peak = rss
  }, everyMs)
  return {
    stop: () => {
      clearInterval(timer)
      const rss = rssOf(pid)
      if (rss !== undefined && rss > peak) peak = rss
      return peak
    }
  }
}

/** The pids of the children still running. */
export const childPids = () => [...children].filter((c) => c.exitCode === null && c.signalCode === null).map((c) => c.pid!)

const ticksPerSecond = 100 // USER_HZ on Linux

/** CPU seconds of processes on the whole machine since boot (/proc/stat: user, nice, system; as utime + stime count them). */
const machineBusySeconds = () => {
  try {
    const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0]!
    const [user, nice, system] = line.trim().split(/\s+/).slice(1).map(Number)
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0)) / ticksPerSecond
  } catch {
    return Number.NaN
  }
}

/** CPU seconds used by a process (utime + stime of /proc/<pid>/stat), 0 once it is gone. */
const processSeconds = (pid: number) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
  } catch {
    return 0
  }
}

/**
 * How much CPU the rest of the machine (everything but this process and its children) used while a run
 * went on, in cores: other sessions' tests on a shared machine make a run slower, and this says so.
 */
export const otherCpu = () => {
  const pids = childPids()
  const ours = () => process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6 + pids.reduce((n, pid) => n + processSeconds(pid), 0)
  const startedAt = performance.now()
  const busy0 = machineBusySeconds()
  const ours0 = ours()
  return {
    stop: () => {
      const seconds = (performance.now() - startedAt) / 1000
      const other = machineBusySeconds() - busy0 - (ours() - ours0)
      return Math.max(0, other / seconds)
    }
  }
}

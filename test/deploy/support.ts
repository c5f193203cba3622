/** Helpers of the deployment tests: child processes with a bound, the system PATH, the packed tarball. */
import { type ChildProcess, spawn, type SpawnOptions } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

export const root = fileURLToPath(new URL("../../", import.meta.url))
export const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

export const makeTempDir = (prefix: string) => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

/**
 * The environment of this process without what `npm test` adds (npm_* variables, the project's
 * node_modules/.bin folders on PATH): what a user's shell has.
 */
export const userEnv = (extra: Record<string, string> = {}): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined || key.toLowerCase().startsWith("npm_") || key.startsWith("MCP_") || key === "NODE_OPTIONS") continue
    if (key.startsWith("VITEST") || key === "TEST" || key === "NODE_ENV") continue
    env[key] = value
  }
  env["PATH"] = systemPath()
  return { ...env, ...extra }
}

/** PATH without the folders that npm or a node_modules add: its `node` is the machine's own. */
export const systemPath = (): string =>
  (process.env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
    .split(path.delimiter)
    .filter((dir) => dir !== "" && !dir.includes("node_modules") && !dir.includes("node-gyp-bin"))
    .join(path.delimiter)

export interface RunResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs a program to its end, killed (and failed) past `timeoutMs`. */
export const run = (command: string, args: ReadonlyArray<string>, options: SpawnOptions & { timeoutMs?: number; input?: string } = {}) =>
  new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"], ...options })
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => {
      child.kill("SIGKILL")
      reject(new Error(`${command} ${args.join(" ")} took longer than ${options.timeoutMs} ms\n${stdout}\n${stderr}`))
    }, options.timeoutMs ?? 120_000)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    child.stdin?.end(options.input ?? "")
  })

/** Like run, but a non-zero exit is an error that shows the output. */
export const runOk = async (command: string, args: ReadonlyArray<string>, options: SpawnOptions & { timeoutMs?: number; input?: string } = {}) => {
  const result = await run(command, args, options)
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.code ?? result.signal}\nstdout: ${result.stdout.slice(-4000)}\nstderr: ${result.stderr.slice(-4000)}`)
  }
  return result
}

/** A TCP port free on loopback now. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port
      server.close(() => resolve(port))
    })
  })

/** Polls `url` until it answers `status` (or `deadlineMs` passes). */
export const waitForStatus = async (url: string, status: number, deadlineMs: number, child?: ChildProcess, init?: RequestInit) => {
  const until = Date.now() + deadlineMs
  let last = "no answer"
  while (Date.now() < until) {
    if (child && child.exitCode !== null) throw new Error(`the process exited (${child.exitCode}) before ${url} answered`)
    try {
      const response = await fetch(url, { ...init, signal: AbortSignal.timeout(2000) })
      if (response.status === status) return response
      last = `status ${response.status}: ${(await response.text()).slice(0, 300)}`
    } catch (error) {
      last = String(error)
    }
    await new Promise((r) => setTimeout(r, 250))
  }
  throw new Error(`${url} did not answer ${status} within ${deadlineMs} ms (last: ${last})`)
}

/** Every file below `dir`, relative, sorted. */
export const listFiles = (dir: string): Array<string> =>
  (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as Array<fs.Dirent>)
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)))
    .sort()

import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, describe, expect, it } from "vitest"

const root = fileURLToPath(new URL("../../", import.meta.url))
// vitest may run on an older system node; the sources need Node 24 (the project's own node binary)
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")
const packageVersion = (JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { version: string }).version
const WAIT_MS = 15_000
const stackLine = /^\s+at /m

const tempDir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-cli-")))
afterAll(() => fs.rmSync(tempDir, { recursive: true, force: true }))

/** This process's environment without any MCP_* variable, plus `extra`. */
const cleanEnv = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const key of Object.keys(env)) if (key.startsWith("MCP_")) delete env[key]
  return { ...env, ...extra }
}

interface Child {
  readonly process: ChildProcess
  readonly output: { stdout: string; stderr: string }
  readonly exited: Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
}

const children = new Set<ChildProcess>()
afterEach(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
  children.clear()
})

const withTimeout = <A>(promise: Promise<A>, what: string): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

const start = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Child => {
  const child = spawn(nodeBin, ["src/main.ts", ...args], { cwd: root, env: cleanEnv(env), stdio: ["ignore", "pipe", "pipe"] })
  children.add(child)
  const output = { stdout: "", stderr: "" }
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output.stdout += chunk))
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output.stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (code, signal) => resolve({ code, signal }))
  })
  return { process: child, output, exited }
}

/** Runs the CLI to completion. */
const run = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  const child = start(args, env)
  const { code } = await withTimeout(child.exited, `mcp-router ${args.join(" ")} to exit`)
  return { code, ...child.output }
}

/** Resolves with the first stdout line matching `pattern`; rejects if the process exits first. */
const waitForLine = (child: Child, pattern: RegExp): Promise<RegExpMatchArray> =>
  withTimeout(
    new Promise<RegExpMatchArray>((resolve, reject) => {
      const check = () => {
        const match = child.output.stdout.match(pattern)
        if (match) {
          child.process.stdout!.off("data", check)
          resolve(match)
        }
      }
      child.process.stdout!.on("data", check)
      check()
      void child.exited.then(({ code }) =>
        reject(new Error(`exited with ${code} before printing ${pattern}\nstdout: ${child.output.stdout}\nstderr: ${child.output.stderr}`)))
    }),
    `a line matching ${pattern}`
  )

describe("mcp-router command line", () => {
  it("--version prints the version of package.json", async () => {
    const result = await run(["--version"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`v${packageVersion}`)
    expect(result.stderr).toBe("")
  })

  it("config validate accepts the default configuration", async () => {
    const result = await run(["config", "validate"])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`Configuration is valid: port 3001, host 0.0.0.0, working directory ${fs.realpathSync(root)}`)
    expect(result.stdout).not.toContain("Environment overrides")
  })

  it("config validate lists the MCP_* variables that override the file", async () => {
    const result = await run(["config", "validate"], { MCP_PORT: "4123", MCP_HOST: "127.0.0.1" })
    expect(result.code).toBe(0)
    expect(result.stdout).toContain("Configuration is valid: port 4123, host 127.0.0.1")
    expect(result.stdout).toContain("Environment overrides: MCP_PORT, MCP_HOST")
  })

  it("config validate <bad file> exits 1 and lists every problem without a stack trace", async () => {
    const file = path.join(tempDir, "bad.json")
    fs.writeFileSync(file, JSON.stringify({ server: { port: 70000, bogus: 1 }, tools: { timeout: "slow" } }))
    const result = await run(["config", "validate", file])
    expect(result.code).toBe(1)
    expect(result.stdout).not.toContain("Configuration is valid")
    expect(result.stderr).toContain("Invalid configuration (")
    expect(result.stderr).toContain("  - server.bogus: unknown key; remove it or check its spelling")
    expect(result.stderr).toContain("  - server.port: Expected a value between 0 and 65535, got 70000")
    expect(result.stderr).toContain("  - tools.timeout: Expected number, got \"slow\"")
    expect(result.stderr).not.toMatch(stackLine)
  })

  it("config validate <missing file> exits 1 naming the file", async () => {
    const file = path.join(tempDir, "missing.json")
    const result = await run(["config", "validate", file])
    expect(result.code).toBe(1)
    expect(result.stderr).toContain(`config file ${file} does not exist`)
    expect(result.stderr).not.toMatch(stackLine)
  })

  it("serve with an invalid MCP_PORT exits 1 naming the variable, without a stack trace", async () => {
    const result = await run(["serve"], { MCP_PORT: "70000", MCP_HOST: "127.0.0.1", MCP_WORKING_DIR: tempDir })
    expect(result.code).toBe(1)
    expect(result.stderr).toContain("server.port (from MCP_PORT): Expected a value between 0 and 65535, got 70000")
    expect(result.stderr).not.toMatch(stackLine)
    expect(result.stdout).not.toContain("listening on")
  })
})

describe("mcp-router serve", () => {
  const serveEnv = (port: number) => ({
    MCP_PORT: String(port),
    MCP_HOST: "127.0.0.1",
    MCP_WORKING_DIR: tempDir,
    MCP_LOG_CONSOLE: "true",
    // development mode, so /health answers in full without a key
    MCP_REQUIRE_API_KEY: "false",
    // the database goes to the temporary folder, never to the repository's data/
    MCP_DATA_DIR: path.join(tempDir, "data")
  })

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`answers /health, then stops cleanly with exit code 0 on ${signal}`, async () => {
      const child = start(["serve"], serveEnv(0))
      const [, url] = await waitForLine(child, /listening on (http:\/\/127\.0\.0\.1:\d+)/)
      const response = await withTimeout(fetch(`${url}/health`), "GET /health")
      expect(response.status).toBe(200)
      expect(response.headers.get("content-type")).toContain("application/json")
      const body = (await response.json()) as { status?: unknown; version?: unknown }
      expect(body.status).toBe("ok")
      expect(body.version).toBe(packageVersion)

      child.process.kill(signal)
      const exit = await withTimeout(child.exited, `exit after ${signal}`)
      expect(exit).toEqual({ code: 0, signal: null })
      expect(child.output.stdout).toContain("HTTP server stopped")
    })
  }

  const occupyPort = () =>
    new Promise<net.Server>((resolve, reject) => {
      const server = net.createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => resolve(server))
    })

  const servePortInUse = async () => {
    const blocker = await occupyPort()
    try {
      const port = (blocker.address() as net.AddressInfo).port
      return { port, ...(await run(["serve"], serveEnv(port))) }
    } finally {
      blocker.close()
    }
  }

  it("exits non-zero, instead of hanging, when the port is already in use", async () => {
    const result = await servePortInUse()
    expect(result.code).not.toBe(0)
    expect(result.code).not.toBeNull()
    expect(result.stderr).toContain(`address already in use 127.0.0.1:${result.port}`)
    expect(result.stdout).not.toContain("listening on")
  })

  it("reports a port in use in one readable message, without a stack trace", async () => {
    const result = await servePortInUse()
    expect(result.stderr).not.toMatch(stackLine)
    expect(result.stderr).not.toMatch(/ServeError: \n/)
  })
})

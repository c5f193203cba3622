import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { ConfigError } from "../../src/config/ConfigError.ts"
import { loadConfig } from "../../src/config/load.ts"

type Env = Record<string, string | undefined>

const tempDirs: Array<string> = []
afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true })
})

/** A fresh folder to use as cwd; `file` (if given) is written as its config/mcp-router.json. */
const makeCwd = (file?: unknown): string => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-load-")))
  tempDirs.push(dir)
  if (file !== undefined) writeFile(dir, "config/mcp-router.json", typeof file === "string" ? file : JSON.stringify(file))
  return dir
}

const writeFile = (dir: string, name: string, text: string): string => {
  const full = path.join(dir, name)
  fs.mkdirSync(path.dirname(full), { recursive: true })
  fs.writeFileSync(full, text)
  return full
}

const load = (cwd: string, env: Env = {}, file?: string) => Effect.runPromise(loadConfig({ env, cwd, file }))

/** Runs loadConfig expecting a failure, and checks that failure is a ConfigError. */
const loadError = async (cwd: string, env: Env = {}, file?: string): Promise<ConfigError> => {
  const error = await Effect.runPromise(Effect.flip(loadConfig({ env, cwd, file })))
  expect(error).toBeInstanceOf(ConfigError)
  expect(error._tag).toBe("ConfigError")
  return error
}

describe("loadConfig: sources and precedence", () => {
  it("uses the Schema defaults when there is no config file", async () => {
    const cwd = makeCwd()
    const config = await load(cwd)
    expect(config.server.port).toBe(3001)
    expect(config.server.host).toBe("0.0.0.0")
    expect(config.security.requireApiKey).toBe(true)
    expect(config.security.maxRequestsPerMinute).toBe(100)
    expect(config.security.maxRequestsPerHour).toBe(1000)
    expect(config.security.adminKey).toBeUndefined()
    expect(config.tools.timeout).toBe(30_000)
    expect(config.tools.maxOutputBytes).toBe(1_048_576)
    expect(config.tools.allowedCommands).toEqual(["ls", "cat", "head", "tail", "grep", "find", "git", "docker"])
    // a dedicated working folder, created on first start
    expect(config.tools.workingDir).toBe(path.join(cwd, "workspace"))
    expect(fs.statSync(path.join(cwd, "workspace")).isDirectory()).toBe(true)
    expect(config.logging.logDir).toBe(path.join(cwd, "logs"))
  })

  it("lets config/mcp-router.json override defaults and keeps defaults for the keys it omits", async () => {
    const cwd = makeCwd({ server: { port: 4100 }, tools: { allowedCommands: ["ls"] } })
    const config = await load(cwd)
    expect(config.server.port).toBe(4100)
    expect(config.server.host).toBe("0.0.0.0")
    expect(config.tools.allowedCommands).toEqual(["ls"])
    expect(config.tools.timeout).toBe(30_000)
  })

  it("lets every MCP_* variable override the file", async () => {
    const cwd = makeCwd({
      server: { port: 4100, host: "10.0.0.1" },
      logging: { level: "warn", enableFile: false, enableConsole: true },
      security: { requireApiKey: true, maxRequestsPerMinute: 5, maxRequestsPerHour: 50, adminKey: "from-file" },
      tools: { enableReal: true, timeout: 1000, allowedCommands: ["ls"] },
      websocket: { maxConnections: 3 }
    })
    fs.mkdirSync(path.join(cwd, "work"))
    const config = await load(cwd, {
      MCP_PORT: "4200",
      MCP_HOST: "127.0.0.1",
      MCP_LOG_LEVEL: "debug",
      MCP_LOG_FILE: "true",
      MCP_LOG_CONSOLE: "0",
      MCP_REQUIRE_API_KEY: "FALSE",
      MCP_MAX_REQUESTS_PER_MINUTE: "7",
      MCP_MAX_REQUESTS_PER_HOUR: "70",
      MCP_ENABLE_REAL_TOOLS: "false",
      MCP_WORKING_DIR: "work",
      MCP_ADMIN_KEY: "from-env",
      MCP_ALLOWED_COMMANDS: " git , ls,,cat ",
      MCP_TOOL_TIMEOUT: "2500",
      MCP_WS_MAX_CONNECTIONS: "9"
    })
    expect(config.server.port).toBe(4200)
    expect(config.server.host).toBe("127.0.0.1")
    expect(config.logging.level).toBe("debug")
    expect(config.logging.enableFile).toBe(true)
    expect(config.logging.enableConsole).toBe(false)
    expect(config.security.requireApiKey).toBe(false)
    expect(config.security.maxRequestsPerMinute).toBe(7)
    expect(config.security.maxRequestsPerHour).toBe(70)
    expect(config.security.adminKey).toBe("from-env")
    expect(config.tools.enableReal).toBe(false)
    expect(config.tools.workingDir).toBe(path.join(cwd, "work"))
    expect(config.tools.allowedCommands).toEqual(["git", "ls", "cat"])
    expect(config.tools.timeout).toBe(2500)
    expect(config.websocket.maxConnections).toBe(9)
  })

  it("ignores MCP_* variables set to an empty string", async () => {
    const cwd = makeCwd({ server: { port: 4100 } })
    const config = await load(cwd, { MCP_PORT: "", MCP_ALLOWED_COMMANDS: "" })
    expect(config.server.port).toBe(4100)
    expect(config.tools.allowedCommands).toContain("git")
  })

  it("reads the file named by MCP_CONFIG instead of config/mcp-router.json", async () => {
    const cwd = makeCwd({ server: { port: 4100 } })
    writeFile(cwd, "other.json", JSON.stringify({ server: { port: 4300 } }))
    expect((await load(cwd, { MCP_CONFIG: "other.json" })).server.port).toBe(4300)
  })

  it("prefers an explicit file over MCP_CONFIG", async () => {
    const cwd = makeCwd()
    writeFile(cwd, "a.json", JSON.stringify({ server: { port: 4401 } }))
    writeFile(cwd, "b.json", JSON.stringify({ server: { port: 4402 } }))
    expect((await load(cwd, { MCP_CONFIG: "a.json" }, "b.json")).server.port).toBe(4402)
  })

  it("accepts the \"$schema\" key of a config file", async () => {
    const cwd = makeCwd({ $schema: "./mcp-router.schema.json", server: { port: 4500 } })
    const config = await load(cwd)
    expect(config.server.port).toBe(4500)
    expect(config).not.toHaveProperty("$schema")
  })

  it("resolves tools.workingDir to an absolute real path", async () => {
    const cwd = makeCwd({ tools: { workingDir: "link" } })
    fs.mkdirSync(path.join(cwd, "real"))
    fs.symlinkSync(path.join(cwd, "real"), path.join(cwd, "link"), "dir")
    const config = await load(cwd)
    expect(path.isAbsolute(config.tools.workingDir)).toBe(true)
    expect(config.tools.workingDir).toBe(path.join(cwd, "real"))
  })

  it("ignores MCP_CONFIG set to an empty string, like the other MCP_* variables", async () => {
    const cwd = makeCwd({ server: { port: 4600 } })
    expect((await load(cwd, { MCP_CONFIG: "" })).server.port).toBe(4600)
  })
})

describe("loadConfig: file problems", () => {
  it("fails when an explicitly named file does not exist", async () => {
    const cwd = makeCwd()
    const error = await loadError(cwd, {}, "missing.json")
    expect(error.problems).toEqual([`config file ${path.join(cwd, "missing.json")} does not exist`])
  })

  it("fails when the file named by MCP_CONFIG does not exist", async () => {
    const cwd = makeCwd()
    const error = await loadError(cwd, { MCP_CONFIG: "nope.json" })
    expect(error.message).toContain(`config file ${path.join(cwd, "nope.json")} does not exist`)
  })

  it("reports a file that is not valid JSON", async () => {
    const cwd = makeCwd("{ \"server\": { \"port\": 3001, } ")
    const error = await loadError(cwd)
    expect(error.problems).toHaveLength(1)
    expect(error.problems[0]).toMatch(/^not valid JSON: /)
    expect(error.message).toContain("Invalid configuration (")
  })

  it("reports a JSON root that is not an object", async () => {
    const error = await loadError(makeCwd("[1, 2]"))
    expect(error.problems).toEqual(["(root): expected a JSON object, got [1,2]"])
  })

  it("names an unknown top-level key", async () => {
    const error = await loadError(makeCwd({ sever: { port: 3001 } }))
    expect(error.problems).toEqual(["sever: unknown key; remove it or check its spelling"])
  })

  it("names an unknown nested key by its dotted path", async () => {
    const error = await loadError(makeCwd({ tools: { timeoutMs: 5 } }))
    expect(error.problems).toEqual(["tools.timeoutMs: unknown key; remove it or check its spelling"])
    expect(error.message).toContain("  - tools.timeoutMs: unknown key")
  })

  it.each([-1, 70000])("rejects server.port %d with the expected range and the value", async (port) => {
    const error = await loadError(makeCwd({ server: { port } }))
    expect(error.problems).toEqual([`server.port: Expected a value between 0 and 65535, got ${port}`])
  })

  it("accepts server.port 0 (the server then picks a free port)", async () => {
    expect((await load(makeCwd({ server: { port: 0 } }))).server.port).toBe(0)
  })

  it("rejects a port given as a string in the file", async () => {
    const error = await loadError(makeCwd({ server: { port: "3001" } }))
    expect(error.problems).toEqual(["server.port: Expected number, got \"3001\""])
  })

  it("reports several problems together", async () => {
    const error = await loadError(makeCwd({ server: { port: -1, extra: true }, logging: { level: "loud" } }))
    expect(error.problems).toHaveLength(3)
    expect(error.message).toContain("server.extra: unknown key")
    expect(error.message).toContain("server.port: Expected a value between 0 and 65535, got -1")
    expect(error.message).toMatch(/logging\.level: Expected .*"info".*, got "loud"/)
  })

  it("does not attribute a key named like an Object.prototype member to an environment variable", async () => {
    const error = await loadError(makeCwd({ constructor: 1 }))
    expect(error.problems).toEqual(["constructor: unknown key; remove it or check its spelling"])
  })
})

describe("loadConfig: environment and workingDir problems", () => {
  it("rejects MCP_REQUIRE_API_KEY=yes naming the variable and the field", async () => {
    const error = await loadError(makeCwd(), { MCP_REQUIRE_API_KEY: "yes" })
    expect(error.problems).toEqual(["security.requireApiKey (from MCP_REQUIRE_API_KEY): expected true or false, got \"yes\""])
  })

  it("rejects MCP_PORT=abc as not a whole number", async () => {
    const error = await loadError(makeCwd(), { MCP_PORT: "abc" })
    expect(error.problems).toEqual(["server.port (from MCP_PORT): expected a whole number, got \"abc\""])
  })

  it("rejects MCP_PORT=70000 naming the variable, the range and the value", async () => {
    const error = await loadError(makeCwd(), { MCP_PORT: "70000" })
    expect(error.problems).toEqual(["server.port (from MCP_PORT): Expected a value between 0 and 65535, got 70000"])
    expect(error.source).toBe("defaults and environment")
  })

  it("reports every bad variable at once", async () => {
    const error = await loadError(makeCwd(), { MCP_PORT: "x", MCP_LOG_FILE: "maybe" })
    expect(error.problems).toEqual([
      "server.port (from MCP_PORT): expected a whole number, got \"x\"",
      "logging.enableFile (from MCP_LOG_FILE): expected true or false, got \"maybe\""
    ])
  })

  it("creates a workingDir that does not exist, with its parents", async () => {
    const cwd = makeCwd({ tools: { workingDir: "missing/deeper" } })
    const config = await load(cwd)
    expect(config.tools.workingDir).toBe(path.join(cwd, "missing", "deeper"))
    expect(fs.statSync(path.join(cwd, "missing", "deeper")).isDirectory()).toBe(true)
  })

  it("rejects a workingDir that cannot be created, naming the folder and the cause", async () => {
    const cwd = makeCwd({ tools: { workingDir: "plain.txt/inner" } })
    writeFile(cwd, "plain.txt", "not a folder")
    const error = await loadError(cwd)
    expect(error.problems).toHaveLength(1)
    expect(error.problems[0]).toMatch(/^tools\.workingDir: cannot create the folder /)
    expect(error.problems[0]).toContain(path.join(cwd, "plain.txt", "inner"))
    expect(error.problems[0]).toMatch(/ENOTDIR|EEXIST/)
  })

  it("rejects a workingDir that is a file, naming MCP_WORKING_DIR when it came from there", async () => {
    const cwd = makeCwd()
    writeFile(cwd, "plain.txt", "not a folder")
    const error = await loadError(cwd, { MCP_WORKING_DIR: "plain.txt" })
    expect(error.problems).toEqual([
      `tools.workingDir (from MCP_WORKING_DIR): expected an existing folder, got "plain.txt" (${path.join(cwd, "plain.txt")} is not a folder)`
    ])
  })
})

/**
 * Builds the configuration from its sources, lowest first: Schema defaults < config file < MCP_* environment.
 * Every source is checked by the same Schema, and every problem is reported with the field, the value
 * and what was expected.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { ConfigError } from "./ConfigError.ts"
import { RouterConfig, type RouterConfigInput } from "./schema.ts"

type EnvKind = "string" | "int" | "boolean" | "list" | "file"
type Env = Readonly<Record<string, string | undefined>>

/** The environment variables the router reads, and where each lands in the configuration. */
export const environmentVariables: ReadonlyArray<{ readonly name: string; readonly path: string; readonly kind: EnvKind }> = [
  { name: "MCP_PORT", path: "server.port", kind: "int" },
  { name: "MCP_HOST", path: "server.host", kind: "string" },
  { name: "MCP_LOG_LEVEL", path: "logging.level", kind: "string" },
  { name: "MCP_LOG_FILE", path: "logging.enableFile", kind: "boolean" },
  { name: "MCP_LOG_CONSOLE", path: "logging.enableConsole", kind: "boolean" },
  { name: "MCP_REQUIRE_API_KEY", path: "security.requireApiKey", kind: "boolean" },
  { name: "MCP_MAX_REQUESTS_PER_MINUTE", path: "security.maxRequestsPerMinute", kind: "int" },
  { name: "MCP_MAX_REQUESTS_PER_HOUR", path: "security.maxRequestsPerHour", kind: "int" },
  { name: "MCP_ADMIN_KEY", path: "security.adminKey", kind: "string" },
  { name: "MCP_ENABLE_REAL_TOOLS", path: "tools.enableReal", kind: "boolean" },
  { name: "MCP_WORKING_DIR", path: "tools.workingDir", kind: "string" },
  { name: "MCP_ALLOWED_COMMANDS", path: "tools.allowedCommands", kind: "list" },
  { name: "MCP_TOOL_TIMEOUT", path: "tools.timeout", kind: "int" },
  { name: "MCP_WS_MAX_CONNECTIONS", path: "websocket.maxConnections", kind: "int" },
  { name: "MCP_DATA_DIR", path: "storage.dataDir", kind: "string" },
  { name: "MCP_STORAGE_URL", path: "storage.url", kind: "string" },
  { name: "MCP_REDIS_URL", path: "redis.url", kind: "string" },
  { name: "MCP_OTLP_ENDPOINT", path: "monitoring.otlpEndpoint", kind: "string" },
  { name: "MCP_ADMIN_KEY_FILE", path: "security.adminKey", kind: "file" }
]

const decodeStrict = Schema.decodeUnknownExit(RouterConfig, { onExcessProperty: "error", errors: "all" })
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

const show = (value: unknown): string => {
  const text = JSON.stringify(value)
  return text === undefined ? String(value) : text.length > 80 ? `${text.slice(0, 77)}...` : text
}

const valueAt = (input: unknown, keys: ReadonlyArray<PropertyKey>): unknown =>
  keys.reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as any)[key] : undefined), input)

// keys that would reach Object.prototype instead of the configuration
const unsafeKeys = new Set(["__proto__", "constructor", "prototype"])

/** Sets `a.b.c` in a plain object; returns a problem for a path that names no configuration key. */
export const setPath = (target: Record<string, unknown>, dotted: string, value: unknown): string | undefined => {
  const keys = dotted.split(".")
  if (keys.some((key) => key === "" || unsafeKeys.has(key))) return `${dotted}: unknown key; remove it or check its spelling`
  let node = target
  for (const key of keys.slice(0, -1)) {
    const next = Object.hasOwn(node, key) ? node[key] : undefined
    node = next !== null && typeof next === "object" && !Array.isArray(next) ? next as Record<string, unknown> : (node[key] = {}) as Record<string, unknown>
  }
  node[keys[keys.length - 1]!] = value
  return undefined
}

const parseEnvValue = (raw: string, kind: EnvKind, cwd: string): { ok: true; value: unknown } | { ok: false; expected: string } => {
  const text = raw.trim()
  switch (kind) {
    case "string":
      return { ok: true, value: text }
    case "int":
      return /^-?\d+$/.test(text) ? { ok: true, value: Number(text) } : { ok: false, expected: "a whole number" }
    case "boolean": {
      const lower = text.toLowerCase()
      if (lower === "true" || lower === "1") return { ok: true, value: true }
      if (lower === "false" || lower === "0") return { ok: true, value: false }
      return { ok: false, expected: "true or false" }
    }
    case "list":
      return { ok: true, value: text.split(",").map((item) => item.trim()).filter((item) => item.length > 0) }
    case "file": {
      // a container secret mounted as a file; its content is the value
      try {
        return { ok: true, value: fs.readFileSync(path.resolve(cwd, text), "utf8").trim() }
      } catch (error) {
        return { ok: false, expected: `a readable file (${(error as NodeJS.ErrnoException).code ?? "unreadable"})` }
      }
    }
  }
}

export interface ValidateOptions {
  /**
   * Create `tools.workingDir` (with its parents) when it does not exist: at start-up. A runtime update
   * never creates folders, it must name an existing one.
   */
  readonly createWorkingDir?: boolean
}

/** Checks a merged input against the Schema, then the facts the Schema cannot see (folders exist). */
export const validateConfig = (
  input: unknown,
  source: string,
  cwd: string,
  origins: ReadonlyMap<string, string> = new Map(),
  options: ValidateOptions = {}
) =>
  Effect.gen(function*() {
    const exit = decodeStrict(input)
    if (exit._tag === "Failure") {
      const error = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
      const issues = error ? formatIssues(error.issue).issues : [{ path: [], message: String(exit.cause) }]
      return yield* new ConfigError({
        source,
        problems: issues.map(({ message, path: keys = [] }) => {
          const field = keys.map(String).join(".") || "(root)"
          const from = origins.has(field) ? ` (from ${origins.get(field)})` : ""
          const got = message.startsWith("Expected no excess property")
            ? "unknown key"
            : `${message}, got ${show(valueAt(input, keys as ReadonlyArray<PropertyKey>))}`
          return `${field}${from}: ${got === "unknown key" ? "unknown key; remove it or check its spelling" : got}`
        })
      })
    }
    const config = exit.value
    const workingDir = path.resolve(cwd, config.tools.workingDir)
    const from = origins.has("tools.workingDir") ? ` (from ${origins.get("tools.workingDir")})` : ""
    let stat = fs.statSync(workingDir, { throwIfNoEntry: false })
    if (stat === undefined && options.createWorkingDir === true) {
      // the dedicated workspace is made on first start; a path that exists as something else is still an error
      stat = yield* Effect.try({
        try: () => {
          fs.mkdirSync(workingDir, { recursive: true })
          return fs.statSync(workingDir)
        },
        catch: (e) =>
          new ConfigError({
            source,
            problems: [`tools.workingDir${from}: cannot create the folder ${workingDir}: ${(e as Error).message}`]
          })
      })
    }
    if (!stat?.isDirectory()) {
      return yield* new ConfigError({
        source,
        problems: [`tools.workingDir${from}: expected an existing folder, got ${show(config.tools.workingDir)} (${workingDir} ${stat ? "is not a folder" : "does not exist"})`]
      })
    }
    return {
      ...config,
      tools: { ...config.tools, workingDir: fs.realpathSync(workingDir) },
      logging: { ...config.logging, logDir: path.resolve(cwd, config.logging.logDir) },
      storage: { ...config.storage, dataDir: path.resolve(cwd, config.storage.dataDir) }
    } satisfies RouterConfig
  })

const readConfigFile = (file: string, explicit: boolean) =>
  Effect.gen(function*() {
    if (!fs.existsSync(file)) {
      if (explicit) return yield* new ConfigError({ source: file, problems: [`config file ${file} does not exist`] })
      return {}
    }
    const text = yield* Effect.try({
      try: () => fs.readFileSync(file, "utf8"),
      catch: (e) => new ConfigError({ source: file, problems: [`cannot read the file: ${(e as Error).message}`] })
    })
    const parsed = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: (e) => new ConfigError({ source: file, problems: [`not valid JSON: ${(e as Error).message}`] })
    })
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      return yield* new ConfigError({ source: file, problems: [`(root): expected a JSON object, got ${show(parsed)}`] })
    }
    // the "$schema" key lets editors find config/mcp-router.schema.json; it is not configuration
    const { $schema: _schema, ...rest } = parsed as Record<string, unknown>
    return rest
  })

export interface LoadOptions {
  readonly env: Env
  readonly cwd: string
  /** A file named on the command line; otherwise MCP_CONFIG, else config/mcp-router.json when present. */
  readonly file?: string | undefined
  /**
   * Whether the router runs as an installed package (from a node_modules folder: `npx`, a global or a
   * project install) rather than from a checkout; found from this module's location when not given.
   */
  readonly installed?: boolean | undefined
}

/** True when this module was loaded from inside a node_modules folder: an installed package. */
export const runsInstalled = (moduleFile: string = fileURLToPath(import.meta.url)): boolean =>
  moduleFile.split(/[\\/]/).includes("node_modules")

/**
 * The per-user folder an installed router keeps its state in when the configuration names none:
 * `$XDG_DATA_HOME/mcp-router-pro` (else `~/.local/share/mcp-router-pro`) on Linux,
 * `~/Library/Application Support/mcp-router-pro` on macOS, `%LOCALAPPDATA%\mcp-router-pro` on Windows.
 */
export const userDataFolder = (env: Env, platform: NodeJS.Platform = process.platform, home: string = os.homedir()): string => {
  const absolute = (value: string | undefined) => (value !== undefined && path.isAbsolute(value) ? value : undefined)
  if (platform === "win32") return path.join(absolute(env["LOCALAPPDATA"]) ?? path.join(home, "AppData", "Local"), "mcp-router-pro")
  if (platform === "darwin") return path.join(home, "Library", "Application Support", "mcp-router-pro")
  return path.join(absolute(env["XDG_DATA_HOME"]) ?? path.join(home, ".local", "share"), "mcp-router-pro")
}

/**
 * The folders an installed router defaults to, in its per-user folder: the launch folder of a desktop
 * client or `npx` is never written to. A checkout keeps the Schema's defaults, relative to its cwd.
 */
const installedDefaults = (env: Env): ReadonlyArray<readonly [string, string]> => {
  const base = userDataFolder(env)
  return [
    ["storage.dataDir", path.join(base, "data")],
    ["tools.workingDir", path.join(base, "workspace")],
    ["logging.logDir", path.join(base, "logs")]
  ]
}

/** A validated configuration and the files it was read from. */
export interface LoadedConfig {
  readonly config: RouterConfig
  /**
   * Absolute paths of the files actually read: the config file (when it exists) and a secret file named
   * by an environment variable (MCP_ADMIN_KEY_FILE). The tools never reach them.
   */
  readonly files: ReadonlyArray<string>
}

/** Loads and validates the configuration from file and environment, telling which files it read. */
export const loadConfigWithFiles = (options: LoadOptions) =>
  Effect.gen(function*() {
    // an empty MCP_CONFIG is unset, like every other MCP_* variable
    const named = options.file ?? (options.env["MCP_CONFIG"] || undefined)
    const file = path.resolve(options.cwd, named ?? "config/mcp-router.json")
    const fromFile = yield* readConfigFile(file, named !== undefined)
    const files: Array<string> = fs.existsSync(file) ? [file] : []
    const merged: Record<string, unknown> = structuredClone(fromFile)
    const origins = new Map<string, string>()
    const envProblems: Array<string> = []
    for (const variable of environmentVariables) {
      const raw = options.env[variable.name]
      if (raw === undefined || raw === "") continue
      const parsed = parseEnvValue(raw, variable.kind, options.cwd)
      if (!parsed.ok) {
        envProblems.push(`${variable.path} (from ${variable.name}): expected ${parsed.expected}, got ${show(raw)}`)
        continue
      }
      if (variable.kind === "file") files.push(path.resolve(options.cwd, raw.trim()))
      setPath(merged, variable.path, parsed.value)
      origins.set(variable.path, variable.name)
    }
    if (options.installed ?? runsInstalled()) {
      for (const [dotted, folder] of installedDefaults(options.env)) {
        if (valueAt(merged, dotted.split(".")) === undefined) setPath(merged, dotted, folder)
      }
    }
    const shownFile = file.startsWith(options.cwd + path.sep) ? path.relative(options.cwd, file) : file
    const source = fs.existsSync(file) ? `${shownFile} and environment` : "defaults and environment"
    const validated = validateConfig(merged, source, options.cwd, origins, { createWorkingDir: true })
    if (envProblems.length === 0) return { config: yield* validated, files } satisfies LoadedConfig
    // report the environment's problems together with the file's
    const fileProblems = yield* validated.pipe(Effect.match({ onSuccess: () => [], onFailure: (e) => e.problems }))
    return yield* new ConfigError({ source, problems: [...envProblems, ...fileProblems] })
  })

/** Loads and validates the configuration from file and environment. */
export const loadConfig = (options: LoadOptions) => Effect.map(loadConfigWithFiles(options), (loaded) => loaded.config)

export type { RouterConfigInput }

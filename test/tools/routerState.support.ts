/**
 * Real layouts of the router's own state (data dir with a database and its journal, a config file, a log
 * dir, an install folder) for the tests that every tool refuses them, and the core layer configured on them.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../src/main.ts"
import { RouterInstallFolder } from "../../src/tools/Sandbox.ts"
import { callTool, put, textOf } from "./fixtures.ts"

/** Every protected file holds this marker; no tool output may ever contain it. */
export const stateMarker = "ROUTER-STATE-SECRET"

export interface StateLayout {
  /** The working folder (real path). */
  readonly root: string
  readonly dataDir: string
  readonly database: string
  readonly journal: string
  readonly configFile: string
  readonly logDir: string
  readonly logFile: string
  readonly installFolder: string
  readonly installFile: string
  /** Folders to remove afterwards. */
  readonly folders: ReadonlyArray<string>
}

export const tempDir = (prefix: string) => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

const fill = (base: string, relative: { data: string; config: string; logs: string; install: string }) => {
  const dataDir = path.join(base, relative.data)
  const logDir = path.join(base, relative.logs)
  const installFolder = path.join(base, relative.install)
  const database = put(dataDir, "mcp-router.db", `SQLite format 3 ${stateMarker} database`)
  const journal = put(dataDir, "mcp-router.db-wal", `${stateMarker} journal`)
  const configFile = put(base, relative.config, `{ "security": { "adminKey": "${stateMarker}-admin-key" } }`)
  const logFile = put(logDir, "mcp-router.log", `{"message":"${stateMarker} log line"}\n`)
  const installFile = put(installFolder, "package.json", `{ "name": "mcp-router-pro", "x": "${stateMarker}" }`)
  put(installFolder, "src/main.ts", `// ${stateMarker}\n`)
  return { dataDir, database, journal, configFile, logDir, logFile, installFolder, installFile }
}

/**
 * The working folder holds all of the router's state (the layout of `workingDir: "."` run from the
 * install folder): data/, config/mcp-router.json, logs/, router/ (the install folder), plus ordinary files.
 */
export const stateInside = (): StateLayout => {
  const root = tempDir("mcp-state-inside-")
  const state = fill(root, { data: "data", config: "config/mcp-router.json", logs: "logs", install: "router" })
  put(root, "notes.txt", "plain notes\n")
  put(root, "sub/readme.txt", "plain readme\n")
  put(root, "config/other.json", "{}\n")
  return { root, ...state, folders: [root] }
}

/** The shipped layout: a dedicated working folder; the router's state lives elsewhere. */
export const stateOutside = (): StateLayout => {
  const root = tempDir("mcp-state-workspace-")
  const base = tempDir("mcp-state-router-")
  const state = fill(base, { data: "data", config: "config/mcp-router.json", logs: "logs", install: "router" })
  put(root, "notes.txt", "plain notes\n")
  return { root, ...state, folders: [root, base] }
}

export const removeLayout = (layout: StateLayout) => {
  for (const folder of layout.folders) fs.rmSync(folder, { recursive: true, force: true })
}

/** The router's configuration on a layout, in file form. */
export const stateConfig = (layout: StateLayout, tools: Record<string, unknown> = {}) => ({
  tools: { timeout: 5_000, ...tools, workingDir: layout.root },
  storage: { dataDir: layout.dataDir },
  logging: { enableConsole: false, logDir: layout.logDir }
})

/** The real core layer (Router, Sandbox, the tools) on a layout: its config file and install folder included. */
export const stateLayer = (layout: StateLayout, tools: Record<string, unknown> = {}) =>
  RouterCoreLayer.pipe(
    Layer.provideMerge(AppConfig.layerFromInput(stateConfig(layout, tools), layout.root, { files: [layout.configFile] })),
    Layer.provide(Layer.succeed(RouterInstallFolder, layout.installFolder))
  )

/** Every protected file's content, to check nothing was written through a refused path. */
export const snapshot = (layout: StateLayout) =>
  Object.fromEntries(
    [layout.database, layout.journal, layout.configFile, layout.logFile, layout.installFile].map((file) => [file, fs.readFileSync(file, "utf8")])
  )

/** The names in each protected folder, to check nothing was created there. */
export const folderNames = (layout: StateLayout) =>
  Object.fromEntries([layout.dataDir, layout.logDir, layout.installFolder].map((dir) => [dir, fs.readdirSync(dir).sort()]))

/** Calls a tool and expects an isError result that never shows the router's state. */
export const failing = (name: string, args: Record<string, unknown>) =>
  Effect.gen(function*() {
    const output = yield* callTool(name, args)
    const text = textOf(output)
    if (output.isError !== true) throw new Error(`${name} ${JSON.stringify(args)}: expected isError, got ${text}`)
    if (text.includes(stateMarker)) throw new Error(`${name} ${JSON.stringify(args)} showed the router's state: ${text}`)
    return text
  })

/** Calls a tool expecting a PathRefused naming `shown` (the path as given) and each of `parts`. */
export const refused = (name: string, args: Record<string, unknown>, shown: string, ...parts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const text = yield* failing(name, args)
    const expected = [`Path ${JSON.stringify(shown)} refused: `, ...parts]
    for (const part of expected) {
      if (!text.includes(part)) throw new Error(`${name} ${JSON.stringify(args)}: expected "${part}" in: ${text}`)
    }
    return text
  })

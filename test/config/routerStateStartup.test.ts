/**
 * Start-up side of "the sandbox never contains the router": the loader tells which files the configuration
 * came from (so the tools refuse them), the default working folder is made on first start, and the real
 * server process warns when its working folder holds its own state.
 */
import { Effect, Layer } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { loadConfigWithFiles } from "../../src/config/load.ts"
import { RouterInstallFolder, Sandbox } from "../../src/tools/Sandbox.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

const folders: Array<string> = []
const children: Array<ChildProcessWithoutNullStreams> = []
afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
  for (const folder of folders.splice(0)) fs.rmSync(folder, { recursive: true, force: true })
})

const tempDir = () => {
  const dir = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-state-startup-")))
  folders.push(dir)
  return dir
}

describe("the files the configuration was read from", () => {
  it("are the config file and MCP_ADMIN_KEY_FILE, as absolute paths", async () => {
    const cwd = tempDir()
    fs.mkdirSync(path.join(cwd, "config"))
    fs.writeFileSync(path.join(cwd, "config/mcp-router.json"), JSON.stringify({ server: { port: 4100 } }))
    fs.writeFileSync(path.join(cwd, "admin.key"), "admin-key-from-a-file-0123456789")
    const { config, files } = await Effect.runPromise(loadConfigWithFiles({ env: { MCP_ADMIN_KEY_FILE: "admin.key" }, cwd }))
    expect(config.server.port).toBe(4100)
    expect(files).toEqual([path.join(cwd, "config/mcp-router.json"), path.join(cwd, "admin.key")])
  })

  it("are none when there is no file (defaults and environment only)", async () => {
    const { files } = await Effect.runPromise(loadConfigWithFiles({ env: { MCP_PORT: "4200" }, cwd: tempDir() }))
    expect(files).toEqual([])
  })

  it("name a file given with --config (or MCP_CONFIG) wherever it is", async () => {
    const cwd = tempDir()
    const elsewhere = tempDir()
    fs.writeFileSync(path.join(elsewhere, "router.json"), "{}")
    const { files } = await Effect.runPromise(loadConfigWithFiles({ env: { MCP_CONFIG: path.join(elsewhere, "router.json") }, cwd }))
    expect(files).toEqual([path.join(elsewhere, "router.json")])
  })

  it("are refused by the tools: the sandbox reads them from AppConfig", async () => {
    const cwd = tempDir()
    fs.writeFileSync(path.join(cwd, "secret.key"), "admin-key-from-a-file-0123456789")
    fs.writeFileSync(path.join(cwd, "router.json"), JSON.stringify({ tools: { workingDir: "." }, storage: { dataDir: path.join(tempDir(), "data") } }))
    const loaded = await Effect.runPromise(loadConfigWithFiles({ env: { MCP_ADMIN_KEY_FILE: "secret.key" }, cwd, file: "router.json" }))
    const layer = Sandbox.layer.pipe(
      Layer.provide(Layer.effect(AppConfig, AppConfig.make(loaded.config, cwd, loaded.files))),
      Layer.provide(Layer.succeed(RouterInstallFolder, tempDir()))
    )
    const reasons = await Effect.runPromise(
      Effect.gen(function*() {
        const sandbox = yield* Sandbox
        return yield* Effect.forEach(["secret.key", "router.json", "./x/../router.json"], (p) =>
          Effect.flip(sandbox.resolve(p)).pipe(Effect.map((e) => e.message)))
      }).pipe(Effect.provide(layer))
    )
    expect(reasons).toEqual([
      `Path "secret.key" refused: it is the router's configuration file ${path.join(cwd, "secret.key")}; the tools never reach the router's own state`,
      `Path "router.json" refused: it is the router's configuration file ${path.join(cwd, "router.json")}; the tools never reach the router's own state`,
      `Path "./x/../router.json" refused: it is the router's configuration file ${path.join(cwd, "router.json")}; the tools never reach the router's own state`
    ])
  })
})

describe("the default working folder", () => {
  it("is a \"workspace\" folder made on first start, and used as it is on the next", async () => {
    const cwd = tempDir()
    const first = await Effect.runPromise(loadConfigWithFiles({ env: {}, cwd }))
    expect(first.config.tools.workingDir).toBe(path.join(cwd, "workspace"))
    fs.writeFileSync(path.join(cwd, "workspace", "kept.txt"), "kept")
    const second = await Effect.runPromise(loadConfigWithFiles({ env: {}, cwd }))
    expect(second.config.tools.workingDir).toBe(path.join(cwd, "workspace"))
    expect(fs.readFileSync(path.join(cwd, "workspace", "kept.txt"), "utf8")).toBe("kept")
  })

  it("that exists as a file stops start-up with a clear message", async () => {
    const cwd = tempDir()
    fs.writeFileSync(path.join(cwd, "workspace"), "not a folder")
    const error = await Effect.runPromise(Effect.flip(loadConfigWithFiles({ env: {}, cwd })))
    expect(error._tag).toBe("ConfigError")
    expect(error.problems).toEqual([
      `tools.workingDir: expected an existing folder, got "workspace" (${path.join(cwd, "workspace")} is not a folder)`
    ])
  })
})

/** Runs `serve` until it listens (bounded) and returns everything it printed. */
const serveOutput = (env: Record<string, string>) =>
  new Promise<string>((resolve, reject) => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("MCP_")))
    const child = spawn(nodeBin, ["src/main.ts", "serve"], {
      cwd: root,
      env: { ...base, MCP_PORT: "0", MCP_HOST: "127.0.0.1", MCP_ADMIN_KEY: "admin-key-for-state-startup-0123456789", MCP_LOG_CONSOLE: "true", ...env }
    })
    children.push(child)
    let output = ""
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${output}`)), 20_000)
    const collect = (chunk: unknown) => {
      output += String(chunk)
      if (/listening on http:\/\/127\.0\.0\.1:\d+/.test(output)) {
        clearTimeout(timer)
        child.kill("SIGTERM")
        resolve(output)
      }
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
  })

describe("the real server at start-up", () => {
  it("warns when its working folder holds its data dir, naming it (and nothing else)", async () => {
    const dir = tempDir()
    const output = await serveOutput({ MCP_WORKING_DIR: dir, MCP_DATA_DIR: path.join(dir, "data") })
    const line = output.split("\n").find((l) => l.includes(`tools.workingDir ${dir} contains`))
    expect(line, output).toBeDefined()
    expect(line).toContain(`the router's data dir (storage.dataDir) ${path.join(dir, "data")}`)
    expect(line).not.toContain("log dir")
  })

  it("does not warn with a dedicated working folder", async () => {
    const dir = tempDir()
    const output = await serveOutput({ MCP_WORKING_DIR: path.join(dir, "work"), MCP_DATA_DIR: path.join(dir, "data") })
    expect(output).not.toContain("tools.workingDir")
    expect(fs.statSync(path.join(dir, "work")).isDirectory()).toBe(true)
  })
})

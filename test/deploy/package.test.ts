/**
 * The package as a user gets it: `npm pack` (which builds dist/ and the command's bundle in dist/bin/), what the tarball holds, the README's
 * Claude Desktop snippet launched by the official SDK's stdio client from an empty folder with the
 * machine's own (older) Node on PATH, and a project that installs the tarball beside its own effect: one
 * copy of effect, `npx mcp-router --version`, the types, and the README's library example serving a tool.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { freePort, listFiles, makeTempDir, nodeBin, root, run, runOk, userEnv, waitForStatus } from "./support.ts"

const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"))

/** The JSON block that follows `claude_desktop_config.json` in the README. */
const desktopSnippet = (): { command: string; args: Array<string>; env: Record<string, string> } => {
  const at = readme.indexOf("`claude_desktop_config.json`")
  expect(at, "the README shows a claude_desktop_config.json snippet").toBeGreaterThan(0)
  const block = /```json\n([\s\S]*?)```/.exec(readme.slice(at))
  const config = JSON.parse(block![1]!.replace(/^ {2}/gm, "")) as { mcpServers: Record<string, any> }
  const servers = Object.values(config.mcpServers)
  expect(servers).toHaveLength(1)
  return servers[0]
}

/** The README's `claude mcp add ... -- command args` line. */
const claudeCodeCommand = (): string => {
  const line = /`(claude mcp add --transport stdio [^`]+)`/.exec(readme)
  expect(line, "the README shows a claude mcp add line for stdio").not.toBeNull()
  return line![1]!
}

let work: string
let tarball: string
/** npm's cache for every install of this file: nothing the user's own cache holds is reused. */
let npmCache: string
let packSeconds = 0

beforeAll(async () => {
  work = makeTempDir("mcp-router-package-")
  npmCache = path.join(work, "npm-cache")
  const started = Date.now()
  // prepack builds dist/ first
  const packed = await runOk("npm", ["pack", "--json", "--pack-destination", work], { cwd: root, env: userEnv({ PATH: process.env["PATH"]! }), timeoutMs: 240_000 })
  packSeconds = (Date.now() - started) / 1000
  // the build's own output comes first (rolldown lists its chunks, "[log] ..." under CI): npm's JSON is the
  // array that starts on a line of its own
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.search(/^\[$/m))) as Array<{ filename: string }>
  tarball = path.join(work, info!.filename)
}, 300_000)

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true })
})

describe("the tarball", () => {
  it("holds dist/ with declarations, the launcher, the example config and its Schema, README, LICENSE, and nothing else", async () => {
    const listing = (await runOk("tar", ["-tzf", tarball])).stdout.split("\n").filter((line) => line !== "")
    const files = listing.map((line) => line.replace(/^package\//, ""))
    for (const needed of [
      "package.json",
      "README.md",
      "LICENSE",
      "bin/mcp-router.js",
      "config/mcp-router.json",
      "config/mcp-router.schema.json",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/main.js",
      "dist/tools/files/searchWorker.js",
      "dist/tools/sql/sqliteWorker.js",
      "dist/bin/mcp-router.js",
      "dist/bin/searchWorker.js",
      "dist/bin/sqliteWorker.js"
    ]) {
      expect(files, needed).toContain(needed)
    }
    const outside = files.filter((file) =>
      !file.startsWith("dist/") && !["package.json", "README.md", "LICENSE", "bin/mcp-router.js", "config/mcp-router.json", "config/mcp-router.schema.json"].includes(file)
    )
    expect(outside).toEqual([])
    expect(files.filter((file) => /\.ts$/.test(file) && !file.endsWith(".d.ts"))).toEqual([])
    // what package.json names is in the tarball
    expect(files).toContain(manifest.types.replace(/^\.\//, ""))
    expect(files).toContain(manifest.exports["."].default.replace(/^\.\//, ""))
    expect(files).toContain(manifest.exports["."].types.replace(/^\.\//, ""))
    expect(files).toContain(manifest.bin["mcp-router"])
    console.log(`npm pack (with the build): ${packSeconds.toFixed(1)} s, ${files.length} files`)
  })

  it("names effect as a peer dependency and Node 24 (the node package) as an optional one", () => {
    expect(manifest.peerDependencies.effect).toMatch(/^\^4\./)
    expect(manifest.dependencies.effect).toBeUndefined()
    expect(manifest.optionalDependencies.node).toMatch(/^24\./)
  })
})

describe("the README's stdio launch (Claude Desktop, Claude Code)", () => {
  it("runs from an empty folder under the machine's own Node, answers the SDK's stdio client, and writes nothing there", async () => {
    const snippet = desktopSnippet()
    // the Claude Code line launches the same command
    expect(claudeCodeCommand()).toContain(`-- ${snippet.command} ${snippet.args.join(" ")}`)
    expect(snippet.command).toBe("npx")
    expect(snippet.args).toContain("--package=mcp-router-pro")

    const launch = makeTempDir("mcp-router-launch-")
    const workspace = makeTempDir("mcp-router-workspace-")
    const dataHome = makeTempDir("mcp-router-xdg-")
    fs.writeFileSync(path.join(workspace, "hello.txt"), "hello from the workspace\n")
    const env = userEnv({
      ...snippet.env,
      MCP_WORKING_DIR: workspace,
      XDG_DATA_HOME: dataHome,
      npm_config_cache: npmCache,
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false"
    })
    const systemNode = await run("node", ["--version"], { env, cwd: launch })
    console.log(`system node on the launch PATH: ${systemNode.stdout.trim() || "none"}`)

    // the published package's name, replaced by the tarball it would be made from
    const args = snippet.args.map((arg) => (arg === "--package=mcp-router-pro" ? `--package=${tarball}` : arg))
    const transport = new StdioClientTransport({ command: snippet.command, args, env, cwd: launch, stderr: "pipe" })
    let stderr = ""
    transport.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    const client = new Client({ name: "package-test", version: "1.0.0" })
    const started = Date.now()
    try {
      await client.connect(transport, { timeout: 240_000 })
      const connectSeconds = (Date.now() - started) / 1000
      const { tools } = await client.listTools()
      expect(tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(["read_file", "list_directory", "write_file"]))
      const result = await client.callTool({ name: "read_file", arguments: { path: "hello.txt" } })
      expect(result.isError ?? false).toBe(false)
      expect(JSON.stringify(result.content)).toContain("hello from the workspace")
      console.log(`npx install and first answer: ${connectSeconds.toFixed(1)} s`)
    } catch (error) {
      throw new Error(`${String(error)}\nstderr of the launch:\n${stderr.slice(-4000)}`)
    } finally {
      await client.close()
    }
    expect(fs.readdirSync(launch), "the launch folder stays empty").toEqual([])
    // the state went to the per-user data folder
    expect(fs.existsSync(path.join(dataHome, "mcp-router-pro", "data", "mcp-router.db"))).toBe(true)
    fs.rmSync(launch, { recursive: true, force: true })
    fs.rmSync(workspace, { recursive: true, force: true })
    fs.rmSync(dataHome, { recursive: true, force: true })
  }, 300_000)
})

describe("a project that installs the tarball beside its own effect", () => {
  let project: string
  beforeAll(async () => {
    project = path.join(work, "project")
    fs.mkdirSync(project)
    const effectVersion = JSON.parse(fs.readFileSync(path.join(root, "node_modules/effect/package.json"), "utf8")).version
    const platformVersion = manifest.dependencies["@effect/platform-node"]
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify({ name: "consumer", private: true, type: "module", dependencies: { effect: effectVersion, "@effect/platform-node": platformVersion, "mcp-router-pro": `file:${tarball}` } }, null, 2)
    )
    await runOk("npm", ["install", "--no-audit", "--no-fund"], {
      cwd: project,
      env: userEnv({ npm_config_cache: npmCache, npm_config_update_notifier: "false" }),
      timeoutMs: 240_000
    })
  }, 300_000)

  it("has one copy of effect on disk, and loads one", async () => {
    const copies = listFiles(path.join(project, "node_modules"))
      .filter((file) => file.endsWith(`${path.sep}package.json`) || file === "package.json")
      .filter((file) => path.basename(path.dirname(file)) === "effect" && !path.dirname(file).includes(`${path.sep}dist${path.sep}`))
      .filter((file) => JSON.parse(fs.readFileSync(path.join(project, "node_modules", file), "utf8")).name === "effect")
    expect(copies).toEqual(["effect/package.json"])

    // record every module Node resolves while the library loads and builds its Router
    fs.writeFileSync(
      path.join(project, "copies.mjs"),
      `import { registerHooks } from "node:module"
const roots = new Set()
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context)
    const match = /^(file:.*\\/node_modules\\/effect)\\//.exec(result.url)
    if (match) roots.add(match[1])
    return result
  }
})
const router = await import("mcp-router-pro")
await import("effect")
if (typeof router.routerCoreLayer !== "function") throw new Error("routerCoreLayer missing")
console.log(JSON.stringify([...roots]))
`
    )
    const loaded = await runOk(nodeBin, ["copies.mjs"], { cwd: project, env: userEnv(), timeoutMs: 60_000 })
    const roots = JSON.parse(loaded.stdout.trim().split("\n").pop()!) as Array<string>
    expect(roots).toHaveLength(1)
    expect(roots[0]).toBe(`file://${path.join(project, "node_modules", "effect")}`)
  })

  it("runs `npx mcp-router --version` under the machine's own Node", async () => {
    const result = await runOk("npx", ["mcp-router", "--version"], { cwd: project, env: userEnv({ npm_config_cache: npmCache }), timeoutMs: 60_000 })
    expect(result.stdout).toContain(manifest.version)
  })

  it("type-checks a program against the declarations", async () => {
    fs.writeFileSync(
      path.join(project, "check.ts"),
      `import { Effect, Schema } from "effect"
import { defineTool, jsonOutput, ToolRegistry, type ToolDefinition } from "mcp-router-pro"

export const greet = defineTool({
  name: "greet",
  description: "Say hello",
  input: Schema.Struct({ name: Schema.String }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler: ({ name }) => Effect.succeed(jsonOutput({ greeting: \`Hello, \${name}\` }))
})
export const tools = ToolRegistry.provide(Effect.succeed([greet]))
// the declarations are real types, not any: a wrong argument is an error
// @ts-expect-error name must be a string
export const wrong: ToolDefinition = defineTool({ name: 1 })
`
    )
    fs.writeFileSync(
      path.join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2024",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [path.join(root, "node_modules/@types")]
        },
        files: ["check.ts"]
      })
    )
    const result = await run(path.join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: project, env: userEnv(), timeoutMs: 120_000 })
    expect(result.stdout + result.stderr).toBe("")
    expect(result.code).toBe(0)
  })

  it("serves a tool of its own with the README's library example", async () => {
    const port = await freePort()
    const workspace = path.join(project, "workspace")
    fs.mkdirSync(workspace)
    const example = /## Use as a library[\s\S]*?```ts\n([\s\S]*?)```/.exec(readme)![1]!
    // the example configures from file and environment: the environment below picks port and folders
    fs.writeFileSync(path.join(project, "server.mjs"), example)
    const child = spawn(nodeBin, ["server.mjs"], {
      cwd: project,
      env: userEnv({
        MCP_PORT: String(port),
        MCP_HOST: "127.0.0.1",
        MCP_REQUIRE_API_KEY: "false",
        MCP_WORKING_DIR: workspace,
        MCP_DATA_DIR: path.join(project, "data"),
        MCP_LOG_LEVEL: "warn"
      }),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let output = ""
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()))
    try {
      await waitForStatus(`http://127.0.0.1:${port}/health/ready`, 200, 30_000, child).catch((error) => {
        throw new Error(`${String(error)}\n${output}`)
      })
      const reply = await fetch(`http://127.0.0.1:${port}/api/mcp/jsonrpc`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "greet", arguments: { name: "Ada" } } })
      }).then((r) => r.json() as Promise<any>)
      expect(reply.result.structuredContent).toEqual({ greeting: "Hello, Ada" })
    } finally {
      child.kill("SIGTERM")
      await new Promise((resolve) => child.once("exit", resolve))
    }
  }, 60_000)
})

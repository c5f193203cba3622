/**
 * The official MCP Inspector's CLI (`mcp-inspector --cli`, the binary `npx @modelcontextprotocol/inspector`
 * runs) against the router: tools/list and tools/call over Streamable HTTP at /mcp with keys on (the key
 * through its --header option) and over stdio (`node src/main.ts stdio`, configured through -e MCP_CONFIG).
 * The HTTP router has server-everything as an unprefixed upstream, so its tools are listed and called too.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  ADMIN,
  everythingUpstream,
  makeTempDir,
  nodeBin,
  removeDir,
  root,
  startHttpSurface,
  type Surface,
  writeStdioConfig
} from "./surfaceHarness.ts"

const inspector = path.join(root, "node_modules/@modelcontextprotocol/inspector/clients/launcher/build/index.js")
const RUN_MS = 25_000

interface Run {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

let home: string

/** `mcp-inspector --cli ...args`, bounded; HOME is a temp folder, so its catalog and stored auth stay there. */
const inspect = (args: ReadonlyArray<string>): Promise<Run> =>
  new Promise((resolve) => {
    const env: Record<string, string> = {}
    for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("MCP_") && value !== undefined) env[key] = value
    execFile(nodeBin, [inspector, "--cli", ...args], { cwd: root, timeout: RUN_MS, env: { ...env, HOME: home } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof (error as any).code === "number" ? (error as any).code : -1
      resolve({ code, stdout, stderr })
    })
  })

/** The JSON result a successful run printed on stdout. */
const resultOf = (run: Run): any => {
  expect(run.code, `exit code ${run.code}\nstdout: ${run.stdout.slice(0, 2000)}\nstderr: ${run.stderr.slice(0, 2000)}`).toBe(0)
  return JSON.parse(run.stdout)
}

const names = (result: any): Array<string> => result.tools.map((t: { name: string }) => t.name)

beforeAll(() => {
  home = makeTempDir("mcp-inspector-home-")
})
afterAll(() => {
  if (home !== undefined) fs.rmSync(home, { recursive: true, force: true })
})

describe("MCP Inspector CLI over Streamable HTTP at /mcp", () => {
  let dir: string
  let surface: Surface
  let url: string
  const auth = () => ["--header", `Authorization: Bearer ${ADMIN}`]

  beforeAll(async () => {
    dir = makeTempDir("mcp-inspector-http-")
    surface = await startHttpSurface({ upstreams: [everythingUpstream(dir)] }, dir)
    url = `${surface.server!.url}/mcp`
    fs.writeFileSync(path.join(surface.workingDir, "inspected.txt"), "read by the inspector over http")
  }, 60_000)
  afterAll(async () => {
    await surface?.close()
    if (dir !== undefined) removeDir(dir)
  })

  it("tools/list with the key lists the router's tools and the unprefixed upstream's", async () => {
    const listed = names(resultOf(await inspect([url, "--transport", "http", "--method", "tools/list", ...auth()])))
    expect(listed).toEqual(expect.arrayContaining(["read_file", "list_directory", "get-tiny-image", "echo"]))
  })

  it("tools/call read_file returns the file", async () => {
    const result = resultOf(await inspect([url, "--transport", "http", "--method", "tools/call", "--tool-name", "read_file", "--tool-arg", "path=inspected.txt", ...auth()]))
    expect(result.isError ?? false).toBe(false)
    expect(result.content).toEqual([{ type: "text", text: "read by the inspector over http" }])
  })

  it("tools/call of an upstream tool returns its result", async () => {
    const result = resultOf(await inspect([url, "--transport", "http", "--method", "tools/call", "--tool-name", "echo", "--tool-arg", "message=through the router", ...auth()]))
    expect(result.content).toEqual([{ type: "text", text: "Echo: through the router" }])
  })

  it("without the key it fails", async () => {
    const run = await inspect([url, "--transport", "http", "--method", "tools/list"])
    expect(run.code).not.toBe(0)
    expect(run.stdout).toBe("")
  })

  it("the 2026-07-28 revision (--protocol-era modern) lists the tools", async () => {
    const listed = names(resultOf(await inspect([url, "--transport", "http", "--protocol-era", "modern", "--method", "tools/list", ...auth()])))
    expect(listed).toEqual(expect.arrayContaining(["read_file", "get-tiny-image"]))
  })
})

describe("MCP Inspector CLI over stdio (src/main.ts stdio)", () => {
  let dir: string
  let config: string

  beforeAll(() => {
    dir = makeTempDir("mcp-inspector-stdio-")
    const written = writeStdioConfig(dir, { upstreams: [] })
    config = written.file
    fs.writeFileSync(path.join(written.workingDir, "inspected.txt"), "read by the inspector over stdio")
  })
  afterAll(() => {
    if (dir !== undefined) removeDir(dir)
  })

  const router = () => ["-e", `MCP_CONFIG=${config}`, "--cwd", root, nodeBin, path.join(root, "src/main.ts"), "stdio"]

  it("tools/list lists the router's tools", async () => {
    const listed = names(resultOf(await inspect([...router(), "--method", "tools/list"])))
    expect(listed).toEqual(expect.arrayContaining(["read_file", "list_directory", "write_file", "search_files"]))
  })

  it("tools/call read_file returns the file", async () => {
    const result = resultOf(await inspect([...router(), "--method", "tools/call", "--tool-name", "read_file", "--tool-arg", "path=inspected.txt"]))
    expect(result.isError ?? false).toBe(false)
    expect(result.content).toEqual([{ type: "text", text: "read by the inspector over stdio" }])
  })
})

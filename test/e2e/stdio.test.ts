/** `node src/main.ts stdio` launched by the official SDK's stdio transport, as a desktop client would. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { fileTools, makeTempDir, requestTimeoutMs, waitFor } from "./harness.ts"

const projectDir = fileURLToPath(new URL("../..", import.meta.url))
// src/main.ts needs Node 24 (type stripping); when vitest itself was started by an older system node,
// launch the project's own Node 24 instead of process.execPath
const nodeBinary = Number(process.versions.node.split(".")[0]) >= 24
  ? process.execPath
  : path.join(projectDir, "node_modules/.bin/node")

const isAlive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

const launch = (workingDir: string) => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith("MCP_") && value !== undefined) env[key] = value
  }
  const transport = new StdioClientTransport({
    command: nodeBinary,
    args: ["src/main.ts", "stdio"],
    cwd: projectDir,
    env: { ...env, MCP_WORKING_DIR: workingDir, MCP_DATA_DIR: path.join(workingDir, ".data"), MCP_LOG_CONSOLE: "true", MCP_LOG_LEVEL: "debug" },
    stderr: "pipe"
  })
  let stderr = ""
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8")
  })
  return { transport, stderr: () => stderr }
}

describe("stdio", () => {
  let workingDir: string
  let client: Client
  let child: ReturnType<typeof launch>
  let pid: number | null = null

  beforeAll(async () => {
    workingDir = makeTempDir()
    fs.writeFileSync(path.join(workingDir, "note.txt"), "written by the test")
    child = launch(workingDir)
    client = new Client({ name: "e2e-stdio", version: "1.0.0" })
    await client.connect(child.transport, { timeout: 20_000 })
    pid = child.transport.pid
  })

  afterAll(async () => {
    await client?.close()
    // never leave a child behind, even when a test failed before closing it
    if (pid !== null && isAlive(pid)) process.kill(pid, "SIGKILL")
  })

  it("initializes with the router's name", () => {
    expect(client.getServerVersion()).toMatchObject({ name: "mcp-router-pro" })
    expect(pid).toEqual(expect.any(Number))
  })

  it("lists the file tools", async () => {
    const { tools } = await client.listTools(undefined, { timeout: requestTimeoutMs })
    expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(fileTools))
    for (const tool of tools) expect(tool.inputSchema.type).toBe("object")
  })

  it("reads a file of the working directory given by MCP_WORKING_DIR", async () => {
    const result: any = await client.callTool({ name: "read_file", arguments: { path: "note.txt" } }, undefined, { timeout: requestTimeoutMs })
    expect(result.isError).toBe(false)
    expect(result.content).toEqual([{ type: "text", text: "written by the test" }])
    expect(result.structuredContent).toMatchObject({ path: "note.txt", size: 19 })
  })

  it("refuses a path escaping the working directory with an isError result", async () => {
    const result: any = await client.callTool({ name: "read_file", arguments: { path: "../../etc/passwd" } }, undefined, { timeout: requestTimeoutMs })
    expect(result.isError).toBe(true)
    expect(result.content[0].text).toContain("outside the working directory")
  })

  it("keeps the protocol on stdout clean over many calls; any log output on stderr is JSON lines", async () => {
    for (let i = 0; i < 10; i++) {
      const written: any = await client.callTool(
        { name: "write_file", arguments: { path: `many/${i}.txt`, content: `n${i}`, createDirs: true } },
        undefined,
        { timeout: requestTimeoutMs }
      )
      expect(written.isError).toBe(false)
      const failed: any = await client.callTool({ name: "read_file", arguments: { path: `missing-${i}` } }, undefined, { timeout: requestTimeoutMs })
      expect(failed.isError).toBe(true)
    }
    await expect(client.ping({ timeout: requestTimeoutMs })).resolves.toEqual({})
    const listed: any = await client.callTool({ name: "list_directory", arguments: { path: "many" } }, undefined, { timeout: requestTimeoutMs })
    expect(listed.structuredContent.count).toBe(10)
    // whatever the router logged went to stderr, one JSON object a line (stderr is not a TTY here)
    for (const line of child.stderr().split("\n").filter((l) => l.trim() !== "")) {
      expect(() => JSON.parse(line), `stderr line: ${line}`).not.toThrow()
    }
  })

  it("closing the client ends the child process", async () => {
    expect(pid).not.toBeNull()
    expect(isAlive(pid!)).toBe(true)
    await client.close()
    expect(await waitFor(() => !isAlive(pid!), 10_000)).toBe(true)
  })
})

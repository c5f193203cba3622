/** `node src/main.ts stdio`: the local user's own calls are never rate limited, whatever the limits say. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, expect, it } from "vitest"
import { makeTempDir, requestTimeoutMs } from "./harness.ts"

const projectDir = fileURLToPath(new URL("../..", import.meta.url))
const nodeBinary = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(projectDir, "node_modules/.bin/node")
const workingDir = makeTempDir()
let client: Client | undefined

afterAll(async () => {
  await client?.close()
  fs.rmSync(workingDir, { recursive: true, force: true })
})

it("makes 25 tool calls over stdio with security.maxRequestsPerMinute = 1 and maxRequestsPerHour = 1", async () => {
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("MCP_") && value !== undefined) env[key] = value
  const transport = new StdioClientTransport({
    command: nodeBinary,
    args: ["src/main.ts", "stdio"],
    cwd: projectDir,
    env: { ...env, MCP_WORKING_DIR: workingDir, MCP_DATA_DIR: path.join(workingDir, ".data"), MCP_MAX_REQUESTS_PER_MINUTE: "1", MCP_MAX_REQUESTS_PER_HOUR: "1" },
    stderr: "pipe"
  })
  client = new Client({ name: "e2e-stdio-limits", version: "1.0.0" })
  await client.connect(transport, { timeout: 20_000 })
  const results = await Promise.all(
    Array.from({ length: 25 }, () => client!.callTool({ name: "list_directory", arguments: { path: "." } }, undefined, { timeout: requestTimeoutMs }))
  )
  expect(results.map((r: any) => r.isError)).toEqual(Array(25).fill(false))
}, 30_000)

/** execute_command and git_status end to end: the official MCP SDK client against a real router over HTTP. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "../../support/server.ts"
import { commitAll, repoWith, write } from "../git/gitRepo.ts"

const requestTimeoutMs = 10_000

let server: RunningServer
let client: Client | undefined
let commit: string

beforeAll(async () => {
  server = await startServer({ tools: { timeout: 5_000, allowedCommands: ["ls", "git", "cat"] } })
  const repo = path.join(server.workingDir, "repo")
  repoWith(repo, { "a.txt": "one\n" })
  write(repo, { "b.txt": "two\n" })
  commit = commitAll(repo, "second commit")
  write(repo, { "a.txt": "one\nchanged\n", "new file.txt": "n" })
  client = new Client({ name: "process-tools-e2e", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)), { timeout: requestTimeoutMs })
})
afterAll(async () => {
  await client?.close()
  await server?.close()
})

const call = (name: string, args: Record<string, unknown>): Promise<any> =>
  client!.callTool({ name, arguments: args }, undefined, { timeout: requestTimeoutMs })

const text = (result: any): string => result.content.map((c: any) => c.text).join("\n")

describe("process tools over MCP", () => {
  it("lists execute_command and git_status with truthful annotations", async () => {
    const { tools } = await client!.listTools(undefined, { timeout: requestTimeoutMs })
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    expect(byName.execute_command?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true })
    expect(byName.git_status?.annotations).toMatchObject({ readOnlyHint: true })
    expect(byName.execute_command?.inputSchema.required).toEqual(["command"])
  })

  it("execute_command runs git log in the repository", async () => {
    const result = await call("execute_command", { command: "git", args: ["log", "--format=%H %s"], cwd: "repo" })
    expect(result.isError).toBe(false)
    expect(result.structuredContent).toMatchObject({ exitCode: 0, signal: null, timedOut: false, stdoutTruncated: false })
    expect(result.structuredContent.stdout.split("\n")[0]).toBe(`${commit} second commit`)
    expect(text(result)).toMatch(/^git exited with 0 in \d+ ms\n--- stdout ---\n/)
  })

  it("execute_command failures are isError results, refusals included", async () => {
    const missing = await call("execute_command", { command: "cat", args: ["repo/missing.txt"] })
    expect(missing.isError).toBe(true)
    expect(missing.structuredContent.exitCode).toBe(1)
    expect(missing.structuredContent.stderr).toContain("No such file or directory")
    const refused = await call("execute_command", { command: "rm", args: ["-rf", "repo"] })
    expect(refused.isError).toBe(true)
    expect(text(refused)).toBe("\"rm\" is not allowed; allowed programs are ls, git, cat (tools.allowedCommands)")
    const escaped = await call("execute_command", { command: "cat", args: ["/etc/passwd"] })
    expect(escaped.isError).toBe(true)
    expect(text(escaped)).toContain("outside the working directory")
  })

  it("git_status reports the repository", async () => {
    const result = await call("git_status", { path: "repo" })
    expect(result.isError).toBe(false)
    expect(result.structuredContent).toEqual({
      path: "repo",
      branch: "main",
      detached: false,
      commit,
      upstream: null,
      ahead: 0,
      behind: 0,
      staged: [],
      unstaged: [{ path: "a.txt", change: "modified" }],
      untracked: ["new file.txt"],
      conflicted: []
    })
    expect(JSON.parse(text(result))).toEqual(result.structuredContent)
    const notRepo = await call("git_status", { path: "." })
    expect(notRepo.isError).toBe(true)
    expect(text(notRepo)).toBe(". is not a git repository (inside the working directory)")
  })
})

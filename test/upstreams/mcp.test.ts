/**
 * Upstream tools as the router's own MCP clients see them: the official SDK client on /mcp lists and
 * calls them, sees changes at its next tools/list, and cancels them; over stdio it is also told
 * (notifications/tools/list_changed). effect 4.1's HTTP transport offers no GET stream, so HTTP clients
 * are not pushed notifications.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import * as fs from "node:fs"
import * as path from "node:path"
import { ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import { describe, expect, it } from "vitest"
import {
  callTool,
  cleanupAfterEach,
  everythingServer,
  fixture,
  onCleanup,
  markerDir,
  mcpClient,
  receivedBy,
  recordedPids,
  root,
  type RunningServer,
  setUpstreams,
  start,
  stdio,
  text,
  toolNames,
  waitFor,
  WAIT_MS,
  whenUp
} from "./support.ts"

cleanupAfterEach()

const sdkServer = fixture("sdkServer.mjs")

/** A router with the SDK fixture as upstream "up" (health check a minute away), and a client that counts list_changed. */
const setUp = async () => {
  const marker = markerDir()
  const config = { name: "up", healthCheckMs: 60_000, transport: stdio(sdkServer, marker) }
  const server = await start({ upstreams: [config] })
  await whenUp(server, "up")
  const client = await mcpClient(server)
  return { server, client, marker, config }
}

const listsTool = (client: Client, name: string) => async () => (await toolNames(client)).includes(name)

describe("the official SDK client on /mcp", () => {
  it("lists upstream tools, calls them, and stops listing them when the upstream goes", async () => {
    const { server, client } = await setUp()
    expect(await toolNames(client)).toEqual(expect.arrayContaining(["read_file", "up__echo", "up__hang"]))
    const result: any = await client.callTool({ name: "up__echo", arguments: { text: "via mcp" } }, undefined, { timeout: WAIT_MS })
    expect(result).toMatchObject({ isError: false, content: [{ type: "text", text: "echo: via mcp" }], structuredContent: { echoed: "via mcp", length: 7 } })
    await setUpstreams(server, [])
    await waitFor("up__echo gone from /mcp", async () => !(await toolNames(client)).includes("up__echo"), 8_000)
  })

  it("sees the tool an upstream added at runtime", async () => {
    const { server, client } = await setUp()
    await callTool(server, "up__add_tool", { name: "late" })
    await waitFor("up__late on /mcp", listsTool(client, "up__late"), 8_000)
    const result: any = await client.callTool({ name: "up__late", arguments: {} }, undefined, { timeout: WAIT_MS })
    expect(text(result)).toBe("I am late")
  })

  it("cancelling a call with the client's AbortSignal cancels it upstream", async () => {
    const marker = markerDir()
    const server: RunningServer = await start({ upstreams: [{ name: "ev", transport: stdio(fixture("recorder.mjs"), marker, everythingServer, "stdio") }] })
    await whenUp(server, "ev")
    const client = await mcpClient(server)
    const [pid] = recordedPids(marker)
    const abort = new AbortController()
    const call = client.callTool({ name: "ev__trigger-long-running-operation", arguments: { duration: 10, steps: 10 } }, undefined, { signal: abort.signal, timeout: WAIT_MS })
    call.catch(() => undefined)
    const sent = await waitFor("the call upstream", () => receivedBy(marker, pid!).find((m) => m.method === "tools/call"), 5_000)
    abort.abort("the test cancels")
    await expect(call).rejects.toThrow()
    // the operation takes 10 s: a cancellation must come before it ends
    await waitFor("notifications/cancelled upstream", () =>
      receivedBy(marker, pid!).some((m) => m.method === "notifications/cancelled" && m.params.requestId === sent.id), 6_000)
  })
})

/** `node src/main.ts stdio` with the SDK fixture as upstream "up", launched by the SDK's stdio client. */
const stdioRouter = async () => {
  const marker = markerDir()
  const configFile = path.join(marker, "router.json")
  fs.writeFileSync(configFile, JSON.stringify({
    tools: { workingDir: marker },
    storage: { dataDir: path.join(marker, "data") },
    logging: { enableConsole: false },
    upstreams: [{ name: "up", healthCheckMs: 60_000, transport: stdio(sdkServer, marker) }]
  }))
  const env: Record<string, string> = {}
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith("MCP_") && value !== undefined) env[key] = value
  const client = new Client({ name: "upstream-tests-stdio", version: "1.0.0" })
  const transport = new StdioClientTransport({ command: process.execPath, args: ["src/main.ts", "stdio", "--config", configFile], cwd: root, env, stderr: "ignore" })
  onCleanup(() => client.close())
  await client.connect(transport, { timeout: WAIT_MS })
  const changes = { count: 0 }
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changes.count++)
  // the upstream is up once it has answered the router's tools/list
  await waitFor("the upstream's first tools/list", () => recordedPids(marker).some((pid) => receivedBy(marker, pid).some((m) => m.method === "tools/list")))
  return { client, changes, marker }
}

describe("an MCP client of the router over stdio", () => {
  it("is told (notifications/tools/list_changed) when an upstream adds a tool", async () => {
    const { changes, marker } = await stdioRouter()
    const before = changes.count
    fs.writeFileSync(path.join(marker, "add"), "")
    await waitFor("a list_changed notification", () => changes.count > before)
  })

  // Passes today only because the McpTools bug re-offers the built-in tools on every registry change (each
  // addTool sends list_changed); the fix must keep telling clients when tools leave, not only when they come.
  it("is told when an upstream's tools leave (its process died)", async () => {
    const { client, changes, marker } = await stdioRouter()
    // its tools are the router's before it dies: the upstream's answer to tools/list may still be on its way
    await waitFor("up__echo over stdio", listsTool(client, "up__echo"))
    const before = changes.count
    fs.writeFileSync(path.join(marker, "refuse"), "")
    for (const pid of recordedPids(marker)) process.kill(pid, "SIGKILL")
    await waitFor("a list_changed notification", () => changes.count > before)
  })

  it("lists upstream tools, and the one added at runtime", async () => {
    const { client, marker } = await stdioRouter()
    await waitFor("up__echo over stdio", listsTool(client, "up__echo"), 8_000)
    fs.writeFileSync(path.join(marker, "add"), "")
    await waitFor("up__file_added over stdio", listsTool(client, "up__file_added"), 8_000)
    const result: any = await client.callTool({ name: "up__file_added", arguments: {} }, undefined, { timeout: WAIT_MS })
    expect(text(result)).toBe("added by file")
  })
})

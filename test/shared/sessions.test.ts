/**
 * MCP sessions shared by replicas through Redis, without sticky load balancing: the official SDK client
 * sends each request of one session to the other of two routers in turn (its fetch alternates), and
 * everything works: initialize on one, calls on the other, progress on the call's own stream, a sampling
 * request answered through the other replica, a cancellation landing on the other replica, list_changed
 * on a GET stream, and DELETE on one ending the session on both. Keys are off here: each router has a
 * key store of its own (replicas share theirs in PostgreSQL), so sessions are owned by the client address.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { CreateMessageRequestSchema, ToolListChangedNotificationSchema } from "@modelcontextprotocol/sdk/types.js"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { call, eventually, nodeBin, root, type RunningServer, start, stop } from "../security/support.ts"
import { cleanupAfterAll, redisServerBinary, startOwnRedis } from "./support.ts"

cleanupAfterAll()

const fixture = path.join(root, "test/fixtures/conformanceServer.mjs")
const upstream = (name: string, prefix: string) => ({ name, prefix, transport: { type: "stdio", command: nodeBin, args: [fixture] } })

const describeWithRedis = redisServerBinary === undefined && process.env["CI"] === undefined ? describe.skip : describe

describeWithRedis("two replicas sharing sessions through Redis", () => {
  let a: RunningServer
  let b: RunningServer
  const clients: Array<Client> = []

  beforeAll(async () => {
    const redis = await startOwnRedis()
    const config = { redis: { url: redis.url }, upstreams: [upstream("fixture", "")] }
    ;[a, b] = await Promise.all([start(config, false), start(config, false)])
    for (const server of [a, b]) {
      const up = await eventually(async () => ((await call(`${server.url}/api/upstreams`)).json?.upstreams ?? []).some((u: any) => u.state === "up"), 20_000)
      expect(up).toBe(true)
    }
  }, 60_000)
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.close().catch(() => {})))
    await Promise.all([stop(a), stop(b)])
  })

  /** An SDK client whose requests go to A and B in turn; `served` records which replica got each. */
  const connect = async (capabilities: Record<string, unknown> = {}) => {
    const served: Array<string> = []
    let turn = 0
    const alternating: typeof fetch = (input, init) => {
      const target = turn++ % 2 === 0 ? a : b
      served.push(target === a ? "A" : "B")
      const url = new URL(input instanceof Request ? input.url : String(input))
      return fetch(`${target.url}${url.pathname}${url.search}`, init)
    }
    const client = new Client({ name: "replicas", version: "1" }, { capabilities })
    const transport = new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), {
      fetch: alternating
    })
    clients.push(client)
    return { client, transport, served }
  }

  it("every request of one session may land on either replica: lists, calls and progress work", async () => {
    const { client, transport, served } = await connect()
    await client.connect(transport)
    const tools = (await client.listTools()).tools.map((t) => t.name)
    expect(tools).toContain("test_simple_text")
    const progress: Array<number> = []
    const result = await client.callTool({ name: "test_tool_with_progress", arguments: {} }, undefined, { onprogress: (p) => void progress.push(p.progress) })
    expect(result.content).toEqual([{ type: "text", text: "Tool with progress executed successfully" }])
    expect(progress.length).toBeGreaterThan(0)
    for (let i = 0; i < 4; i++) expect((await client.callTool({ name: "test_simple_text", arguments: {} })).isError).toBeFalsy()
    expect(new Set(served)).toEqual(new Set(["A", "B"]))
  })

  it("a sampling request sent by one replica is answered through the other", async () => {
    const { client, transport } = await connect({ sampling: {} })
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "test-model", content: { type: "text", text: "answered elsewhere" } }))
    await client.connect(transport)
    const result = await client.callTool({ name: "test_sampling", arguments: { prompt: "hello" } })
    expect(JSON.stringify(result.content)).toContain("answered elsewhere")
  })

  it("a client's capabilities and log level declared on one replica hold on the other", async () => {
    const { client, transport } = await connect({ sampling: {} })
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({ role: "assistant", model: "m", content: { type: "text", text: "ok" } }))
    await client.connect(transport)
    const logs: Array<unknown> = []
    client.setNotificationHandler((await import("@modelcontextprotocol/sdk/types.js")).LoggingMessageNotificationSchema, (n) => void logs.push(n.params))
    await client.setLoggingLevel("debug")
    await client.callTool({ name: "test_tool_with_logging", arguments: {} })
    await client.callTool({ name: "test_tool_with_logging", arguments: {} })
    expect(logs.length).toBeGreaterThanOrEqual(3)
  })

  it("a GET stream on one replica receives list_changed; DELETE on one replica ends the session on both", async () => {
    const { client, transport } = await connect()
    let changed = 0
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => void changed++)
    await client.connect(transport)
    await new Promise((resolve) => setTimeout(resolve, 500))
    // the same change on both (one configuration: shared through PostgreSQL in production)
    for (const server of [a, b]) await call(`${server.url}/config`, { body: { upstreams: [upstream("fixture", ""), upstream("more", "more")] } })
    expect(await eventually(async () => changed > 0, 15_000)).toBe(true)
    const sessionId = transport.sessionId!
    await transport.terminateSession()
    // the replica that answered DELETE dropped it at once; the other within a moment (the notice crosses Redis)
    const ping = (server: RunningServer) =>
      call(`${server.url}/mcp`, {
        headers: { accept: "application/json, text/event-stream", "mcp-session-id": sessionId, "mcp-protocol-version": "2025-11-25" },
        body: { jsonrpc: "2.0", id: 1, method: "ping" }
      })
    for (const server of [a, b]) expect(await eventually(async () => (await ping(server)).status === 404, 1_000)).toBe(true)
  }, 30_000)
})

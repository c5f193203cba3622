/**
 * Every request is answered or refused within server.timeout, batches and single calls alike; the
 * answer counts in the HTTP metrics, and no in-flight gauge stays raised after it.
 */
import { Effect, Schema } from "effect"
import { afterEach, expect, it } from "vitest"
import { defineTool, jsonOutput, ToolRegistry } from "../../src/index.ts"
import { type RunningServer, startServer } from "../support/server.ts"
import { ADMIN, call, mcpInitialize } from "../security/support.ts"

const Stuck = ToolRegistry.provide(Effect.succeed([
  defineTool({
    name: "stuck_tool",
    description: "Never finishes on its own",
    input: Schema.Struct({}),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => Effect.never.pipe(Effect.as(jsonOutput({})))
  })
]))

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const metricLines = async (server: RunningServer, name: string) =>
  (await call(`${server.url}/metrics/prometheus`, { key: ADMIN })).text.split("\n").filter((line) => line.startsWith(name))

const timedServer = async () => {
  const server = await startServer({
    server: { timeout: 1000 },
    // the tool's own timeout is longer: the request's bound must answer first
    tools: { timeout: 60_000 },
    security: { requireApiKey: true, adminKey: ADMIN, maxRequestsPerMinute: 100_000, maxRequestsPerHour: 100_000 }
  }, Stuck)
  servers.push(server)
  return server
}

const stuckCall = (id: number) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "stuck_tool", arguments: {} } })

it("a JSON-RPC batch of 100 calls that never finish is answered 503 within server.timeout", async () => {
  const server = await timedServer()
  const started = Date.now()
  const reply = await call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, body: Array.from({ length: 100 }, (_, i) => stuckCall(i)) })
  expect(Date.now() - started).toBeLessThan(2500)
  expect(reply.status).toBe(503)
  expect(reply.json.error.message).toContain("server.timeout")
  const counted = await metricLines(server, 'mcp_router_http_requests_total{')
  expect(counted.some((line) => line.includes('route="/api/mcp/jsonrpc"') && line.includes('status="503"'))).toBe(true)
  const gauges = await metricLines(server, "mcp_router_tool_calls_in_flight")
  expect(gauges.length).toBeGreaterThan(0)
  expect(gauges.every((line) => line.endsWith(" 0"))).toBe(true)
})

it("an /mcp call that never finishes is answered within server.timeout, and its session still works", async () => {
  const server = await timedServer()
  const init = await mcpInitialize(server, { key: ADMIN })
  const session = init.headers.get("mcp-session-id")!
  const headers = { accept: "application/json, text/event-stream", "mcp-session-id": session }
  const started = Date.now()
  const reply = await call(`${server.url}/mcp`, { key: ADMIN, headers, body: stuckCall(2) })
  expect(Date.now() - started).toBeLessThan(2500)
  expect(reply.status).toBe(503)
  const ping = await call(`${server.url}/mcp`, { key: ADMIN, headers, body: { jsonrpc: "2.0", id: 3, method: "ping" } })
  expect(ping.status).toBe(200)
  const gauges = await metricLines(server, "mcp_router_tool_calls_in_flight")
  expect(gauges.every((line) => line.endsWith(" 0"))).toBe(true)
})

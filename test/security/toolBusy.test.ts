/**
 * Calls of a tool family beyond tools.concurrency wait in a queue of tools.maxQueuedCalls; past both they
 * are refused at once as busy (-32053; 503 with Retry-After when it is the whole request; an isError
 * result on /mcp), and the liveness probe stays fast under any tool load.
 */
import { Effect, Schema } from "effect"
import { afterEach, expect, it } from "vitest"
import { defineTool, inFamily, jsonOutput, ToolRegistry } from "../../src/index.ts"
import { type RunningServer, startServer } from "../support/server.ts"
import { ADMIN, call } from "./support.ts"

const Slow = ToolRegistry.provide(Effect.succeed(inFamily("search", [
  defineTool({
    name: "slow_search",
    description: "Takes a second",
    input: Schema.Struct({}),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => Effect.sleep("1 second").pipe(Effect.as(jsonOutput({ done: true })))
  })
])))

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const serve = async (tools: Record<string, unknown>) => {
  const server = await startServer({
    tools,
    security: { requireApiKey: true, adminKey: ADMIN, adminRequestsPerMinute: 1_000_000, adminRequestsPerHour: 1_000_000 }
  }, Slow)
  servers.push(server)
  return server
}

const callTool = (server: RunningServer, name: string, args: Record<string, unknown> = {}) =>
  call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, timeoutMs: 45_000, body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } } })

it("one runs, one waits, the third is refused at once as busy; the waiting one then runs", async () => {
  const server = await serve({ concurrency: { search: 1 }, maxQueuedCalls: 1 })
  const first = callTool(server, "slow_search")
  await new Promise((resolve) => setTimeout(resolve, 100))
  const second = callTool(server, "slow_search")
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = Date.now()
  const third = await callTool(server, "slow_search")
  expect(Date.now() - started).toBeLessThan(500)
  expect(third.status).toBe(503)
  expect(third.headers.get("retry-after")).toBe("2")
  expect(third.json.error.code).toBe(-32053)
  expect(third.json.error.message).toContain("tools.concurrency.search")
  expect((await first).json.result.isError).toBe(false)
  expect((await second).json.result.isError).toBe(false)
  // a batch: each call over the bounds gets its own busy error, the rest are answered
  const batch = await call(`${server.url}/api/mcp/jsonrpc`, {
    key: ADMIN,
    body: Array.from({ length: 5 }, (_, id) => ({ jsonrpc: "2.0", id, method: "tools/call", params: { name: "slow_search", arguments: {} } }))
  })
  const replies = batch.json as Array<any>
  expect(replies.filter((r) => r.result !== undefined)).toHaveLength(2)
  expect(replies.filter((r) => r.error?.code === -32053)).toHaveLength(3)
})

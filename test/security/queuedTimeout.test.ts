/** A call waiting for its tool family's slot still ends at server.timeout, and leaves its place in the queue. */
import { Effect, Schema } from "effect"
import { afterEach, expect, it } from "vitest"
import { defineTool, inFamily, jsonOutput, ToolRegistry } from "../../src/index.ts"
import { type RunningServer, startServer } from "../support/server.ts"
import { ADMIN, call } from "./support.ts"

const Stuck = ToolRegistry.provide(Effect.succeed(inFamily("search", [
  defineTool({
    name: "stuck_search",
    description: "Never finishes on its own",
    input: Schema.Struct({}),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => Effect.never.pipe(Effect.as(jsonOutput({})))
  })
])))

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

it("a queued call is answered 503 at server.timeout and its queue place is freed", async () => {
  const server = await startServer({
    server: { timeout: 1000 },
    tools: { timeout: 60_000, concurrency: { search: 1 }, maxQueuedCalls: 1 },
    security: { requireApiKey: true, adminKey: ADMIN }
  }, Stuck)
  servers.push(server)
  const stuck = () => call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "stuck_search", arguments: {} } } })
  const running = stuck()
  await new Promise((resolve) => setTimeout(resolve, 100))
  const started = Date.now()
  const queued = await stuck()
  expect(Date.now() - started).toBeLessThan(2500)
  expect(queued.status).toBe(503)
  // the timed-out waiter left the queue: the next call waits again rather than being refused as busy
  const next = await stuck()
  expect(next.json?.error?.code).not.toBe(-32053)
  await running
})

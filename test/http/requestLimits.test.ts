import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineTool, textOutput, ToolRegistry } from "../../src/index.ts"
import { type RunningServer, startServer } from "../support/server.ts"

// a tool slower than server.timeout but within tools.timeout, so the HTTP limit is what stops it
const Slow = ToolRegistry.provide(Effect.succeed([
  defineTool({
    name: "slow",
    description: "Waits",
    input: Schema.Struct({}),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => Effect.sleep("20 seconds").pipe(Effect.as(textOutput("done")))
  })
]))

describe("request limits", () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer({ server: { timeout: 300 }, tools: { timeout: 60_000 } }, Slow)
  })
  afterAll(() => server.close())

  it("answers 503 with a JSON error naming server.timeout when a request takes too long", async () => {
    const response = await fetch(`${server.url}/api/mcp/jsonrpc`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow", arguments: {} } })
    })
    expect(response.status).toBe(503)
    expect(await response.json()).toEqual({
      error: { code: "request_timeout", message: "The request took longer than 300 ms (server.timeout)" }
    })
  })

  it("keeps serving after a timed-out request", async () => {
    const response = await fetch(`${server.url}/health`)
    expect(response.status).toBe(200)
  })
})

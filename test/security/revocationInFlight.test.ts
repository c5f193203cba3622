/** A request still running when its key is revoked is answered 401 within a second, on every HTTP entry point. */
import { Effect, Schema } from "effect"
import { afterEach, expect, it } from "vitest"
import { defineTool, jsonOutput, ToolRegistry } from "../../src/index.ts"
import { type RunningServer, startServer } from "../support/server.ts"
import { ADMIN, call, createKey, mcpInitialize, revokeKey } from "./support.ts"

let finished = 0
const Slow = ToolRegistry.provide(Effect.succeed([
  defineTool({
    name: "slow_tool",
    description: "Waits five seconds",
    input: Schema.Struct({}),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: () => Effect.sleep("5 seconds").pipe(Effect.andThen(Effect.sync(() => (finished += 1, jsonOutput({ done: true })))))
  })
]))

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const calls = {
  jsonrpc: (server: RunningServer, key: string) =>
    call(`${server.url}/api/mcp/jsonrpc`, { key, body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "slow_tool", arguments: {} } } }),
  mcp: async (server: RunningServer, key: string) => {
    const headers = { accept: "application/json, text/event-stream" }
    const init = await mcpInitialize(server, { key })
    const session = init.headers.get("mcp-session-id")!
    return call(`${server.url}/mcp`, {
      key,
      headers: { ...headers, "mcp-session-id": session },
      body: { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "slow_tool", arguments: {} } }
    })
  }
}

for (const [transport, run] of Object.entries(calls)) {
  it(`${transport}: a call in flight is answered 401 within a second of its key's revocation, and the tool is stopped`, async () => {
    const server = await startServer({ security: { requireApiKey: true, adminKey: ADMIN } }, Slow)
    servers.push(server)
    const { key, id } = await createKey(server, { permissions: ["execute"] })
    finished = 0
    const pending = run(server, key)
    await new Promise((resolve) => setTimeout(resolve, 500))
    const revokedAt = Date.now()
    expect((await revokeKey(server, id)).status).toBe(200)
    const reply = await pending
    expect(Date.now() - revokedAt).toBeLessThan(1500)
    expect(reply.status, reply.text).toBe(401)
    expect(reply.text).toContain("revoked")
    await new Promise((resolve) => setTimeout(resolve, 5000))
    expect(finished).toBe(0)
  }, 15_000)
}

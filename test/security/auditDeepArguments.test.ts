/**
 * An api_call body nested 4,388 levels deep (once a 500, about 1 in 6 such calls audited and the
 * in-flight gauge left raised): on JSON-RPC and /mcp, never a 500, every call audited, no gauge raised
 * afterwards. The audit code's own safety whatever the depth is tested in test/admin/auditStore.test.ts.
 */
import { Client as McpClient } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { describe, expect, it } from "vitest"
import { ADMIN, call, cleanupAfterEach, type RunningServer, start } from "./support.ts"

cleanupAfterEach()

const depth = 4388
/** The tools/call body's JSON text: JSON.stringify itself would overflow on the way out. */
const bodyText = (id: number) =>
  `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"api_call","arguments":{"url":"https://example.com/","method":"POST","body":${
    '{"a":'.repeat(depth)
  }1${"}".repeat(depth)}}}}`

const inFlight = async (server: RunningServer) => {
  const text = (await call(`${server.url}/metrics/prometheus`, { key: ADMIN })).text
  return text.split("\n").filter((line) => line.startsWith("mcp_router_tool_calls_in_flight")).map((line) => Number(line.split(" ").pop()))
}
const auditedCalls = async (server: RunningServer) => {
  const reply = await call(`${server.url}/api/audit?action=tool.call&target=api_call&limit=1000`, { key: ADMIN })
  expect(reply.status).toBe(200)
  return reply.json.entries as Array<{ outcome: string; details: Record<string, unknown> }>
}

describe("api_call with a body nested 4,388 levels deep", () => {
  it("is answered without a 500 and audited on every call, leaving no in-flight gauge raised", async () => {
    const server = await start({ tools: { enableReal: true }, security: { maxPayloadBytes: 4 * 1024 * 1024 } })
    const calls = 12
    const replies = await Promise.all(Array.from({ length: calls }, (_, i) => call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, body: bodyText(i) })))
    for (const reply of replies) {
      expect(reply.status, reply.text.slice(0, 300)).not.toBe(500)
      // refused by the argument bounds, or answered by the tool: either way a JSON-RPC reply
      expect(reply.json.error?.code ?? reply.json.result?.isError).toBeDefined()
    }

    const client = new McpClient({ name: "deep", version: "1" })
    await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`), { requestInit: { headers: { authorization: `Bearer ${ADMIN}` } } }))
    try {
      let body: unknown = 1
      for (let i = 0; i < depth; i++) body = { a: body }
      const outcome = await client.callTool({ name: "api_call", arguments: { url: "https://example.com/", method: "POST", body } }).then(
        (result) => JSON.stringify(result.content),
        (error) => String((error as Error).message)
      )
      expect(outcome).not.toMatch(/Internal error/)
    } finally {
      await client.close()
    }

    // every call is in the trail: the entry is committed before the answer goes out
    expect(await auditedCalls(server)).toHaveLength(calls + 1)
    expect((await inFlight(server)).every((value) => value === 0)).toBe(true)
  })
})

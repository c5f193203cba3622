/**
 * What an upstream sends during a call (sampling/elicitation requests, log lines) reaches the client that
 * made the call and no other: never a client of another key, whatever the transports of the two calls
 * (sessionless 2026-07-28 POSTs, the plain JSON-RPC endpoint, sessions at /mcp).
 */
import { beforeEach, describe, expect, it } from "vitest"
import { cleanupAfterEach, createKey, type RunningServer } from "../security/support.ts"
import { openSession, postMcp, readFor, sessionless, sleep, startWithFixture } from "./support.ts"

let server: RunningServer
let keyA: string
let keyB: string
cleanupAfterEach()
// a router of its own per test: calls left waiting by one test must not decide the next
beforeEach(async () => {
  server = await startWithFixture()
  keyA = (await createKey(server, { name: "victim", permissions: ["execute", "read"] })).key
  keyB = (await createKey(server, { name: "attacker", permissions: ["execute", "read"] })).key
}, 30_000)

/** The request meta of a sessionless client that takes sampling requests and every log line. */
const listening = { "io.modelcontextprotocol/clientCapabilities": { sampling: {}, elicitation: {} }, "io.modelcontextprotocol/logLevel": "debug" }

/**
 * Key B keeps a call in flight on the upstream, in a session that takes sampling requests and every log
 * line (it never answers its own sampling request), reading all it is sent.
 */
const attackerInFlight = async (id: number) => {
  const session = await openSession(server, keyB, { sampling: {}, elicitation: {} }, "2025-11-25")
  await (await postMcp(server, keyB, { jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: "debug" } }, session)).text()
  return readFor(
    postMcp(server, keyB, { jsonrpc: "2.0", id, method: "tools/call", params: { name: "test_sampling", arguments: { prompt: `attacker-${id}` } } }, session, 10_000),
    5_000
  )
}

describe("a caller of another key sees nothing of a call on the same upstream", () => {
  const victims: ReadonlyArray<{ readonly name: string; readonly send: (secret: string) => Promise<unknown> }> = [
    {
      name: "sessionless POST at /mcp, sampling",
      send: (secret) =>
        readFor(postMcp(server, keyA, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "test_sampling", arguments: { prompt: secret }, _meta: listening } }, sessionless, 6_000), 4_000)
    },
    {
      name: "sessionless POST at /mcp, elicitation",
      send: (secret) =>
        readFor(postMcp(server, keyA, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "test_elicitation", arguments: { message: secret }, _meta: listening } }, sessionless, 6_000), 4_000)
    },
    {
      name: "plain JSON-RPC at /api/mcp/jsonrpc, sampling",
      send: (secret) =>
        readFor(
          fetch(`${server.url}/api/mcp/jsonrpc`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${keyA}` },
            body: JSON.stringify({ jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "test_sampling", arguments: { prompt: secret } } }),
            signal: AbortSignal.timeout(6_000)
          }),
          4_000
        )
    }
  ]

  for (const [index, victim] of victims.entries()) {
    it(`${victim.name}: the request of key A never reaches key B's stream`, async () => {
      const secret = `SECRET-OF-A-${index}-${Date.now()}`
      const attacker = attackerInFlight(100 + index)
      await sleep(400)
      const victimReply = victim.send(secret)
      await victimReply
      const seen = await attacker
      expect(seen).toContain(`attacker-${100 + index}`) // B did get its own request
      expect(seen).not.toContain(secret)
      // and A's call was not answered by B's client: it was told no one client can be asked
      expect(String(await victimReply)).not.toContain("attacker")
    }, 15_000)
  }
})

describe("log lines of a call in a session never reach another key's GET stream", () => {
  it("key A's call logs go to A, not to key B which has a call in flight on the same upstream and a GET stream open", async () => {
    const b = await openSession(server, keyB, { sampling: {} })
    await (await postMcp(server, keyB, { jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: "debug" } }, b)).text()
    const bStream = readFor(fetch(`${server.url}/mcp`, { headers: { accept: "text/event-stream", authorization: `Bearer ${keyB}`, ...b }, signal: AbortSignal.timeout(10_000) }), 4_000)
    const bCall = readFor(postMcp(server, keyB, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "test_sampling", arguments: { prompt: "b" } } }, b, 10_000), 4_000)
    await sleep(400)

    const a = await openSession(server, keyA)
    await (await postMcp(server, keyA, { jsonrpc: "2.0", id: 1, method: "logging/setLevel", params: { level: "debug" } }, a)).text()
    const aReply = await readFor(postMcp(server, keyA, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "test_tool_with_logging", arguments: {} } }, a), 4_000, (t) => t.includes("executed successfully"))
    const seenByB = (await bStream) + (await bCall)
    expect(aReply).toContain("executed successfully")
    expect(seenByB).not.toContain("Tool execution started")
    expect(seenByB).not.toContain("Tool processing data")
  }, 15_000)
})

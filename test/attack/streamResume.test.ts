/**
 * GET /mcp with Last-Event-ID of a POST still running: the POST that carried the request is still
 * answered (its result arrives on the POST or on the resumed stream, and the POST ends either way);
 * resuming never leaves the original request hanging.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { ADMIN, type RunningServer, stop } from "../security/support.ts"
import { headers, openSession, postMcp, readFor, sleep, startWithFixture } from "./support.ts"

let server: RunningServer
beforeAll(async () => {
  server = await startWithFixture()
}, 60_000)
afterAll(() => stop(server))

it("a POST answered as JSON is not left hanging by a resumption of its stream id", async () => {
  const session = await openSession(server, ADMIN, {}, "2025-11-25")
  for (let attempt = 1; attempt <= 3; attempt++) {
    // the call runs ~100 ms and sends nothing before its result (no progress token): a JSON answer
    const started = Date.now()
    const answer = postMcp(server, ADMIN, { jsonrpc: "2.0", id: attempt, method: "tools/call", params: { name: "test_tool_with_progress", arguments: {} } }, session, 6_000)
      .then(async (r) => ({ status: r.status, text: await r.text(), ms: Date.now() - started }))
      .catch((error) => ({ status: 0, text: String(error), ms: Date.now() - started }))
    await sleep(20)
    const resumed = readFor(fetch(`${server.url}/mcp`, { headers: headers(ADMIN, { ...session, "last-event-id": `p${attempt}_0` }), signal: AbortSignal.timeout(4_000) }), 3_000)
    const [post] = await Promise.all([answer, resumed])
    expect({ attempt, status: post.status }).toEqual({ attempt, status: 200 })
    expect(post.ms).toBeLessThan(3_000)
  }
}, 20_000)

/**
 * A sessionless (2026-07-28) call whose upstream asks the client something (sampling/createMessage):
 * either the client's answer reaches the call, or the upstream is told at once that the client cannot
 * answer. The call never waits for an answer that has nowhere to go.
 */
import { afterAll, beforeAll, expect, it } from "vitest"
import { ADMIN, type RunningServer, stop } from "../security/support.ts"
import { postMcp, readFor, sessionless, startWithFixture } from "./support.ts"

let server: RunningServer
beforeAll(async () => {
  server = await startWithFixture()
}, 60_000)
afterAll(() => stop(server))

it("the call ends within seconds once its sampling request is answered (or refused)", async () => {
  const meta = { "io.modelcontextprotocol/clientCapabilities": { sampling: {} } }
  const started = Date.now()
  const response = await postMcp(server, ADMIN, { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "test_sampling", arguments: { prompt: "hi" }, _meta: meta } }, sessionless, 15_000)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let text = ""
  const first = await Promise.race([
    (async () => {
      while (!text.includes(`"id":1,`) && !/"id":"([^"]+)","method":"sampling\/createMessage"/.test(text)) {
        const chunk = await reader.read()
        if (chunk.done) break
        text += decoder.decode(chunk.value, { stream: true })
      }
      return text
    })(),
    new Promise<string>((resolve) => setTimeout(() => resolve(text), 5_000))
  ])
  const asked = /"id":"([^"]+)","method":"sampling\/createMessage"/.exec(first)?.[1]
  if (asked !== undefined) {
    // the client answers the way a sessionless client can: a POST of the response
    const answer = await postMcp(server, ADMIN, { jsonrpc: "2.0", id: asked, result: { role: "assistant", content: { type: "text", text: "ok" }, model: "m" } }, sessionless)
    await answer.text()
  }
  const rest = await readFor(new Response(new ReadableStream({ pull: async (c) => { const r = await reader.read(); r.done ? c.close() : c.enqueue(r.value) } })), 6_000, (t) => t.includes(`"id":1,`))
  expect(first + rest).toContain(`"id":1,`)
  expect(Date.now() - started).toBeLessThan(12_000)
}, 20_000)

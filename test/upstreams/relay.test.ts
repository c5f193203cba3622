/**
 * What an upstream sends during a call reaches the client that made it, through the CallContext the
 * engine provides: progress under the client's own token and in order, log lines, and the upstream's
 * requests (sampling, elicitation, roots) answered by that client. A client that did not declare the
 * capability, a call without a way back, and calls of two sessions at once are refused to the upstream
 * with errors saying why. Interrupting a call cancels it upstream; a silent upstream ends at timeoutMs.
 * The client side here is a real channel that records what it is sent and answers what it is asked.
 */
import { describe, expect, it } from "vitest"
import {
  cleanupAfterEach,
  everythingServer,
  fixture,
  markerDir,
  receivedBy,
  recordedPids,
  stdio,
  text,
  waitFor
} from "./support.ts"
import { cleanupRuntimesAfterEach, clientSide, makeRouter } from "./service.ts"

cleanupAfterEach()
cleanupRuntimesAfterEach()

const everything = async () => {
  const router = await makeRouter([{ name: "ev", transport: stdio(everythingServer, "stdio") }])
  // the tools server-everything offers only to clients that declare sampling, elicitation and roots
  await router.whenUp("ev", "ev__trigger-sampling-request")
  await router.whenUp("ev", "ev__trigger-elicitation-request")
  await router.whenUp("ev", "ev__get-roots-list")
  return router
}

const sampled = { role: "assistant", content: { type: "text", text: "sampled by the test client" }, model: "test-model", stopReason: "endTurn" }

describe("progress", () => {
  it("reaches the caller in order under its own token, before the result", async () => {
    const router = await everything()
    const { context, record } = clientSide({ progressToken: "client-token-7" })
    const result = await router.call("ev__trigger-long-running-operation", { duration: 1, steps: 5 }, context)
    expect(text(result)).toContain("Long running operation completed")
    // all five were delivered when the call returned
    expect(record.notifications).toEqual([1, 2, 3, 4, 5].map((progress) => ({
      method: "notifications/progress",
      params: { progress, total: 5, progressToken: "client-token-7" }
    })))
  })

  it("is not asked of the upstream for a caller that gave no token", async () => {
    const marker = markerDir()
    const router = await makeRouter([{ name: "ev", transport: stdio(fixture("recorder.mjs"), marker, everythingServer, "stdio") }])
    await router.whenUp("ev")
    const { context, record } = clientSide()
    await router.call("ev__trigger-long-running-operation", { duration: 0.3, steps: 3 }, context)
    expect(record.notifications).toEqual([])
    const [pid] = recordedPids(marker)
    const call = receivedBy(marker, pid!).find((m) => m.method === "tools/call")
    expect(call.params._meta?.progressToken).toBeUndefined()
  })
})

describe("sampling, elicitation and roots", () => {
  it("a sampling request is answered by the caller", async () => {
    const router = await everything()
    const { context, record } = clientSide({ capabilities: { sampling: {} }, answer: () => sampled })
    const result = await router.call("ev__trigger-sampling-request", { prompt: "a haiku", maxTokens: 20 }, context)
    expect(text(result)).toContain("sampled by the test client")
    expect(record.requests).toHaveLength(1)
    expect(record.requests[0]!.method).toBe("sampling/createMessage")
    expect(record.requests[0]!.params).toMatchObject({ maxTokens: 20, messages: [{ role: "user", content: { type: "text", text: expect.stringContaining("a haiku") } }] })
  })

  it("the caller's error answer reaches the upstream with its code and message", async () => {
    const router = await everything()
    const { context } = clientSide({
      capabilities: { sampling: {} },
      answer: () => {
        throw { code: -1, message: "the user declined to sample" }
      }
    })
    const result = await router.call("ev__trigger-sampling-request", { prompt: "no" }, context)
    expect(result.isError).toBe(true)
    expect(text(result)).toContain("MCP error -1: the user declined to sample")
  })

  it("an elicitation is answered by the caller", async () => {
    const router = await everything()
    const { context, record } = clientSide({
      capabilities: { elicitation: { form: {} } },
      answer: () => ({ action: "accept", content: { name: "Ada Lovelace", check: true, integer: 7 } })
    })
    const result = await router.call("ev__trigger-elicitation-request", {}, context)
    expect(text(result)).toContain("- Name: Ada Lovelace")
    expect(text(result)).toContain("- Favorite Integer: 7")
    expect(record.requests[0]).toMatchObject({ method: "elicitation/create", params: { message: expect.any(String), requestedSchema: { type: "object" } } })
  })

  it("roots/list is answered by the caller", async () => {
    const router = await everything()
    const { context, record } = clientSide({
      capabilities: { roots: { listChanged: false } },
      answer: () => ({ roots: [{ uri: "file:///work/project", name: "Project" }] })
    })
    const result = await router.call("ev__get-roots-list", {}, context)
    expect(text(result)).toContain("URI: file:///work/project")
    expect(record.requests.map((r) => r.method)).toEqual(["roots/list"])
  })

  it("a caller that did not declare the capability is not asked, and the upstream is told why", async () => {
    const router = await everything()
    const { context, record } = clientSide({ capabilities: { elicitation: {} }, answer: () => sampled })
    const result = await router.call("ev__trigger-sampling-request", { prompt: "x" }, context)
    expect(result.isError).toBe(true)
    expect(text(result)).toMatch(/MCP error -32601: .*did not declare the sampling capability/)
    expect(record.requests).toEqual([])
  })

  it("a call made without a way back to its client is refused the request", async () => {
    const router = await everything()
    const result = await router.call("ev__trigger-sampling-request", { prompt: "x" })
    expect(result.isError).toBe(true)
    expect(text(result)).toContain("cannot answer requests")
  })

  it("with calls of two sessions in flight, nobody is asked: the request is refused", async () => {
    const router = await everything()
    const first = clientSide({ sessionKey: "session-a", capabilities: { sampling: {} }, answer: () => sampled })
    const second = clientSide({ sessionKey: "session-b", capabilities: { sampling: {} }, answer: () => sampled })
    const long = router.call("ev__trigger-long-running-operation", { duration: 2, steps: 2 }, first.context)
    await new Promise((resolve) => setTimeout(resolve, 300))
    const result = await router.call("ev__trigger-sampling-request", { prompt: "whose?" }, second.context)
    await long
    expect(result.isError).toBe(true)
    expect(text(result)).toContain("calls of more than one client session are in flight")
    expect(first.record.requests).toEqual([])
    expect(second.record.requests).toEqual([])
    // with the other call over, the same request reaches its caller
    const again = await router.call("ev__trigger-sampling-request", { prompt: "mine" }, second.context)
    expect(text(again)).toContain("sampled by the test client")
  })
})

describe("log lines", () => {
  it("sent during a call reach its caller in order; sent outside calls they are events", async () => {
    const router = await makeRouter([{ name: "rich", transport: stdio(fixture("richServer.mjs")) }])
    await router.whenUp("rich")
    const events = router.events()
    const { context, record } = clientSide()
    const result = await router.call("rich__chatty", {}, context)
    expect(text(result)).toBe("said two things")
    expect(record.notifications).toEqual([
      { method: "notifications/message", params: { level: "info", logger: "fixture", data: "first" } },
      { method: "notifications/message", params: { level: "warning", logger: "fixture", data: { n: 2 } } }
    ])
    await router.call("rich__log_later", {}, context)
    const log = await waitFor("the log event", () => events.seen.find((e) => e._tag === "Log"))
    expect(log).toEqual({ _tag: "Log", upstream: "rich", params: { level: "notice", logger: "fixture", data: "later" } })
    expect(record.notifications).toHaveLength(2)
    events.stop()
  })
})

describe("ending calls", () => {
  it("an interrupted call is cancelled upstream", async () => {
    const marker = markerDir()
    const router = await makeRouter([{ name: "ev", transport: stdio(fixture("recorder.mjs"), marker, everythingServer, "stdio") }])
    await router.whenUp("ev")
    const [pid] = recordedPids(marker)
    await router.callInterrupted("ev__trigger-long-running-operation", { duration: 10, steps: 10 }, 500)
    const sent = receivedBy(marker, pid!).find((m) => m.method === "tools/call")
    const cancelled = await waitFor("notifications/cancelled upstream", () =>
      receivedBy(marker, pid!).find((m) => m.method === "notifications/cancelled" && m.params.requestId === sent.id), 5_000)
    expect(cancelled.params.requestId).toBe(sent.id)
  })

  it("a silent upstream ends the call at timeoutMs, naming it, and is told to cancel", async () => {
    const marker = markerDir()
    const router = await makeRouter([{ name: "slow", timeoutMs: 300, transport: stdio(fixture("sdkServer.mjs"), marker) }])
    await router.whenUp("slow")
    await expect(router.call("slow__hang")).rejects.toThrow(`upstream "slow" did not answer within 300 ms (upstreams[].timeoutMs)`)
    const [pid] = recordedPids(marker)
    await waitFor("notifications/cancelled upstream", () => receivedBy(marker, pid!).some((m) => m.method === "notifications/cancelled"))
    expect(text(await router.call("slow__echo", { text: "still up" }))).toBe("echo: still up")
  })
})

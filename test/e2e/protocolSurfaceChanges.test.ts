/**
 * The parts of the MCP protocol surface that happen over time, through the router with the official
 * `@modelcontextprotocol/server-everything` as an unprefixed stdio upstream and the official SDK client:
 * tools/list_changed reaching a client when the router's tools change (over /mcp it can only come on the
 * session's GET stream, as no request of that client is open then), and notifications/cancelled stopping a
 * long-running upstream call at the router, over /mcp and over stdio.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { Progress } from "@modelcontextprotocol/sdk/types.js"
import { afterEach, describe, expect, it } from "vitest"
import {
  conformanceFixture,
  everythingUpstream,
  gatedUpstream,
  kinds,
  makeTempDir,
  removeDir,
  setUpstreams,
  sleep,
  startHttpSurface,
  startStdioSurface,
  startSurface,
  stdioUpstream,
  type Surface,
  text,
  toolNames,
  WAIT_MS,
  waitFor,
  whenUp
} from "./surfaceHarness.ts"

const opened: Array<{ surface?: Surface; dir: string }> = []
afterEach(async () => {
  for (const { surface, dir } of opened.splice(0)) {
    await surface?.close()
    removeDir(dir)
  }
})

const folder = (prefix: string) => {
  const entry: { surface?: Surface; dir: string } = { dir: makeTempDir(prefix) }
  opened.push(entry)
  return entry
}

const callOptions = { timeout: WAIT_MS }

describe("tools/list_changed", () => {
  it("over /mcp: an upstream added and removed through POST /config is announced on the session's GET stream", async () => {
    const entry = folder("mcp-surface-changes-http-")
    const surface = entry.surface = await startHttpSurface({ upstreams: [everythingUpstream(entry.dir)] }, entry.dir)
    const { client, seen } = await surface.connect()
    // server-everything announces tools of its own just after it starts: let those settle first
    await sleep(500)
    const before = seen.toolsChanged
    expect(await toolNames(client)).not.toContain("fixture__test_simple_text")

    const fixture = stdioUpstream("fixture", "fixture", [conformanceFixture], entry.dir)
    await setUpstreams(surface.server!, [everythingUpstream(entry.dir), fixture])
    await whenUp(surface.server!, "fixture")
    await waitFor("notifications/tools/list_changed after an upstream was added", () => seen.toolsChanged > before)
    await waitFor("fixture__test_simple_text listed", async () => (await toolNames(client)).includes("fixture__test_simple_text"))

    const added = seen.toolsChanged
    await setUpstreams(surface.server!, [everythingUpstream(entry.dir)])
    await waitFor("notifications/tools/list_changed after it was removed", () => seen.toolsChanged > added)
    await waitFor("fixture__test_simple_text no longer listed", async () => !(await toolNames(client)).includes("fixture__test_simple_text"))

    // the unprefixed upstream kept serving throughout
    const echoed: any = await client.callTool({ name: "echo", arguments: { message: "still here" } }, undefined, callOptions)
    expect(text(echoed)).toBe("Echo: still here")
  })

  it("over stdio: an upstream that comes up after the client connected adds its tools with tools/list_changed", async () => {
    const entry = folder("mcp-surface-changes-stdio-")
    const gate = path.join(entry.dir, "gate")
    // the "late" upstream's process starts the fixture server only once the test creates `gate`
    const surface = entry.surface = await startStdioSurface({
      upstreams: [everythingUpstream(entry.dir), gatedUpstream("late", "late", gate, conformanceFixture, entry.dir)]
    }, entry.dir)
    const { client, seen } = await surface.connect()
    await sleep(500)
    const before = seen.toolsChanged
    expect(await toolNames(client)).not.toContain("late__test_simple_text")

    fs.writeFileSync(gate, "")
    await waitFor("notifications/tools/list_changed once the late upstream is up", () => seen.toolsChanged > before)
    await waitFor("late__test_simple_text listed", async () => (await toolNames(client)).includes("late__test_simple_text"))
    const result: any = await client.callTool({ name: "late__test_simple_text", arguments: {} }, undefined, callOptions)
    expect(result.isError ?? false).toBe(false)
    expect(text(result)).toBe("This is a simple text response for testing.")
  })
})

for (const kind of kinds) {
  describe(`notifications/cancelled over ${kind === "http" ? "/mcp" : "stdio"}`, () => {
    it("cancelling a long-running upstream call ends it at the router at once, and the router keeps serving", async () => {
      const entry = folder(`mcp-surface-cancel-${kind}-`)
      // one upstream call at a time and no queue: a call the router still runs is seen as a busy refusal
      const surface = entry.surface = await startSurface(kind, {
        upstreams: [everythingUpstream(entry.dir)],
        config: { tools: { concurrency: { upstream: 1 }, maxQueuedCalls: 0 } }
      }, entry.dir)
      const { client } = await surface.connect()
      const errors: Array<string> = []
      client.onerror = (error) => void errors.push(String(error))

      const controller = new AbortController()
      const progress: Array<Progress> = []
      const running = client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 20, steps: 20 } },
        undefined,
        { signal: controller.signal, timeout: 25_000, onprogress: (p) => void progress.push(p) }
      )
      const settled = running.then(() => "resolved", (error) => error)
      await waitFor("the first progress notification", () => progress.length > 0, 5_000)

      // the premise: while it runs, the only upstream slot is taken
      const busy: any = await client.callTool({ name: "echo", arguments: { message: "busy?" } }, undefined, callOptions)
      expect(busy.isError, `a second upstream call while the first runs: ${JSON.stringify(busy)}`).toBe(true)

      const abortedAt = Date.now()
      controller.abort("the test cancels the call")
      const outcome = await settled
      expect(outcome).not.toBe("resolved")
      expect(Date.now() - abortedAt).toBeLessThan(1_000)

      // the router ended the call: its slot is free long before the operation's remaining 19 s
      const echoed = await waitFor("the upstream slot to be free again", async () => {
        const result: any = await client.callTool({ name: "echo", arguments: { message: "after cancel" } }, undefined, callOptions)
        return result.isError ? undefined : result
      }, 5_000, 100)
      expect(text(echoed)).toBe("Echo: after cancel")

      // and serves a new long-running call, with its progress, to its end
      const again: Array<Progress> = []
      const done: any = await client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 0.4, steps: 2 } },
        undefined,
        { timeout: WAIT_MS, onprogress: (p) => void again.push(p) }
      )
      expect(text(done)).toBe("Long running operation completed. Duration: 0.4 seconds, Steps: 2.")
      expect(again.map((p) => p.progress)).toEqual([1, 2])
      await expect(client.ping(callOptions)).resolves.toEqual({})

      // server-everything goes on with the cancelled operation (one step a second): its progress stops at the router
      await sleep(Math.max(0, 1_300 - (Date.now() - abortedAt)))
      expect(errors.filter((e) => /progress/i.test(e))).toEqual([])
    })
  })
}

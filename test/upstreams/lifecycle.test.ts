/**
 * An upstream's life: start-up that does not wait for it, readiness, a process killed mid-session and
 * reconnected, hanging calls timing out, upstream errors named, cancellation, removal at runtime.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { describe, expect, it } from "vitest"
import {
  callTool,
  cleanupAfterEach,
  everythingServer,
  fixture,
  listed,
  markerDir,
  processesWith,
  receivedBy,
  recordedPids,
  request,
  rpc,
  setUpstreams,
  start,
  stdio,
  stop,
  text,
  upstream,
  upstreams,
  waitFor,
  whenUp
} from "./support.ts"

cleanupAfterEach()

const sdkServer = fixture("sdkServer.mjs")
const cheapServer = fixture("cheapServer.mjs")

/** The fixture server made with the SDK as upstream `name`; its marker folder finds its processes. */
const sdkUpstream = (name: string, extra: Record<string, unknown> = {}) => {
  const marker = markerDir()
  return { marker, config: { name, transport: stdio(sdkServer, marker), ...extra } }
}

describe("start-up", () => {
  it("does not wait for an absent or a silent upstream, and reports them", async () => {
    const mute = markerDir()
    const server = await start({
      upstreams: [
        { name: "ghost", transport: { type: "stdio", command: "/nonexistent/mcp-upstream-missing", args: [] } },
        { name: "mute", transport: stdio(cheapServer, mute, "silent") }
      ]
    })
    // served at once: the silent upstream has not even failed its initialize yet
    expect((await request(`${server.url}/health`)).status).toBe(200)
    expect((await upstream(server, "mute"))?.state).toBe("connecting")
    await waitFor("the silent process to start", () => recordedPids(mute).length === 1)

    const ghost = await waitFor("ghost down", async () => {
      const status = await upstream(server, "ghost")
      return status?.lastError !== null && status?.state !== "up" ? status : undefined
    })
    expect(ghost).toMatchObject({ transport: "stdio", required: false, tools: [], latencyMs: null, connectedAt: null })
    expect(["down", "connecting"]).toContain(ghost.state)
    expect(ghost.lastError).toEqual(expect.any(String))
    expect(ghost.reconnectAttempts).toBeGreaterThanOrEqual(1)

    // the client's initialize timeout (15 s) ends the silent one's first attempt
    const silent = await waitFor("mute down", async () => {
      const status = await upstream(server, "mute")
      return status?.lastError !== null ? status : undefined
    }, 25_000)
    expect(silent.lastError).toEqual(expect.any(String))
    expect(silent.tools).toEqual([])
  }, 40_000)

  it("/health/ready stays 200 while an optional upstream is down", async () => {
    const server = await start({ upstreams: [{ name: "ghost", transport: { type: "stdio", command: "/nonexistent/mcp-upstream-missing" } }] })
    await waitFor("ghost down", async () => (await upstream(server, "ghost"))?.lastError !== null)
    const ready = await request(`${server.url}/health/ready`)
    expect(ready.status).toBe(200)
  })

  it("/health/ready is 503 while a required upstream is down, naming it", async () => {
    const server = await start({
      upstreams: [{ name: "needed", required: true, transport: { type: "stdio", command: "/nonexistent/mcp-upstream-missing" } }]
    })
    await waitFor("needed down", async () => (await upstream(server, "needed"))?.lastError !== null)
    const ready = await request(`${server.url}/health/ready`)
    expect(ready.status).toBe(503)
    expect(JSON.stringify(ready.json.reasons)).toContain("needed")
  })
})

describe("a running upstream", () => {
  it("killed mid-session is marked down, fails its calls in flight, reconnects, and its tools come back", async () => {
    const { marker, config } = sdkUpstream("up")
    const server = await start({ upstreams: [config] })
    await whenUp(server, "up")
    expect(await listed(server)).toEqual(expect.arrayContaining(["up__echo", "up__hang"]))
    const [first] = recordedPids(marker)

    const inFlight = callTool(server, "up__hang")
    await waitFor("the call to reach the upstream", () => receivedBy(marker, first!).some((m) => m.method === "tools/call"))
    // restarts fail until the file goes: "down" can be seen however fast the backoff is
    fs.writeFileSync(path.join(marker, "refuse"), "")
    process.kill(first!, "SIGKILL")

    const failed = await inFlight
    expect(failed.result.isError).toBe(true)
    expect(text(failed.result)).toContain(`upstream "up"`)

    const down = await waitFor("up down", async () => {
      const status = await upstream(server, "up")
      return status?.state === "down" && status.reconnectAttempts >= 1 ? status : undefined
    })
    expect(down.lastError).toEqual(expect.any(String))
    expect((await listed(server)).filter((n) => n.startsWith("up__"))).toEqual([])
    const call = await callTool(server, "up__echo", { text: "while down" })
    expect(call.error?.code).toBe(-32602)

    fs.rmSync(path.join(marker, "refuse"))
    const back = await whenUp(server, "up")
    expect(back).toMatchObject({ reconnectAttempts: 0, lastError: null })
    expect(back.tools).toContain("up__echo")
    expect(recordedPids(marker).filter((pid) => pid !== first)).toHaveLength(1)
    const echoed = await callTool(server, "up__echo", { text: "back" })
    expect(echoed.result).toMatchObject({ content: [{ type: "text", text: "echo: back" }], structuredContent: { echoed: "back", length: 4 } })
  })
  it("a down upstream's status lists no tools", async () => {
    const { marker, config } = sdkUpstream("gone")
    const server = await start({ upstreams: [config] })
    await whenUp(server, "gone")
    fs.writeFileSync(path.join(marker, "refuse"), "")
    await callTool(server, "gone__crash")
    const down = await waitFor("gone down", async () => {
      const status = await upstream(server, "gone")
      return status?.state === "down" ? status : undefined
    })
    expect((await listed(server)).filter((n) => n.startsWith("gone__"))).toEqual([])
    expect(down.tools).toEqual([])
  })

  it("a hanging call ends after timeoutMs naming the upstream, and the upstream is told to cancel it", async () => {
    const { marker, config } = sdkUpstream("slow", { timeoutMs: 500 })
    const server = await start({ upstreams: [config] })
    await whenUp(server, "slow")
    const reply = await callTool(server, "slow__hang")
    expect(reply.result.isError).toBe(true)
    expect(text(reply.result)).toContain(`upstream "slow" did not answer within 500 ms`)
    const [pid] = recordedPids(marker)
    const cancelled = await waitFor("notifications/cancelled upstream", () => {
      const messages = receivedBy(marker, pid!)
      const call = messages.find((m) => m.method === "tools/call" && m.params.name === "hang")
      return messages.find((m) => m.method === "notifications/cancelled" && m.params.requestId === call?.id)
    })
    expect(cancelled.params.requestId).toBeDefined()
    // the upstream stays up and answers the next call
    expect((await upstream(server, "slow"))?.state).toBe("up")
    expect(text((await callTool(server, "slow__echo", { text: "still here" })).result)).toBe("echo: still here")
  })

  it("errors of the upstream come back as isError results naming it", async () => {
    const cheap = markerDir()
    const { config } = sdkUpstream("sdk")
    const server = await start({ upstreams: [{ name: "cheap", transport: stdio(cheapServer, cheap) }, config] })
    await whenUp(server, "cheap")
    await whenUp(server, "sdk")
    // a JSON-RPC error answer
    const refused = await callTool(server, "cheap__broken")
    expect(refused.result.isError).toBe(true)
    expect(text(refused.result)).toMatch(/upstream "cheap" failed: .*cheap server refuses broken/)
    // a tool's own error result is passed through as the upstream wrote it
    const failed = await callTool(server, "sdk__fail")
    expect(failed.result.isError).toBe(true)
    expect(text(failed.result)).toContain("boom from the fixture")
    // the process ending mid-call
    const crashed = await callTool(server, "sdk__crash")
    expect(crashed.result.isError).toBe(true)
    expect(text(crashed.result)).toContain(`upstream "sdk" failed`)
    expect(text((await callTool(server, "cheap__ping_tool")).result)).toBe("pong from ping_tool")
  })
  it("an aborted HTTP request cancels the upstream call", async () => {
    const marker = markerDir()
    const server = await start({ upstreams: [{ name: "ev", transport: stdio(fixture("recorder.mjs"), marker, everythingServer, "stdio") }] })
    await whenUp(server, "ev")
    const [pid] = recordedPids(marker)
    const abort = new AbortController()
    const call = rpc(server, "tools/call", { name: "ev__trigger-long-running-operation", arguments: { duration: 10, steps: 10 } }, undefined, abort.signal)
    call.catch(() => undefined)
    const sent = await waitFor("the call upstream", () => receivedBy(marker, pid!).find((m) => m.method === "tools/call"))
    abort.abort()
    await expect(call).rejects.toThrow()
    // the operation takes 10 s: a cancellation must come before it ends
    const cancelled = await waitFor("notifications/cancelled upstream", () =>
      receivedBy(marker, pid!).find((m) => m.method === "notifications/cancelled" && m.params.requestId === sent.id), 6_000)
    expect(cancelled.params.requestId).toBe(sent.id)
  })
})

describe("runtime changes", () => {
  it("removing an upstream kills its process and takes its tools away", async () => {
    const { marker, config } = sdkUpstream("temp")
    const server = await start({ upstreams: [config] })
    await whenUp(server, "temp")
    expect(processesWith(marker)).toHaveLength(1)

    await setUpstreams(server, [])
    await waitFor("the process to end", () => processesWith(marker).length === 0)
    await waitFor("temp to leave /api/upstreams", async () => (await upstreams(server)).length === 0)
    expect((await listed(server)).filter((n) => n.startsWith("temp__"))).toEqual([])
  })

  it("stopping the router ends every upstream process", async () => {
    const cheap = markerDir()
    const { marker, config } = sdkUpstream("sdk")
    const server = await start({ upstreams: [config, { name: "cheap", transport: stdio(cheapServer, cheap) }] })
    await whenUp(server, "sdk")
    await whenUp(server, "cheap")
    expect(processesWith(marker)).toHaveLength(1)
    expect(processesWith(cheap)).toHaveLength(1)
    await stop(server)
    await waitFor("the upstream processes to end", () => processesWith(marker).length === 0 && processesWith(cheap).length === 0)
  })

  it("disabling stops the process; changing the prefix restarts it under new names", async () => {
    const { marker, config } = sdkUpstream("flip")
    const server = await start({ upstreams: [config] })
    await whenUp(server, "flip")

    await setUpstreams(server, [{ ...config, enabled: false }])
    await waitFor("the process to end", () => processesWith(marker).length === 0)
    const disabled = await waitFor("flip disabled", async () => {
      const status = await upstream(server, "flip")
      return status?.state === "disabled" ? status : undefined
    })
    expect(disabled.tools).toEqual([])
    expect((await listed(server)).filter((n) => n.startsWith("flip__"))).toEqual([])

    await setUpstreams(server, [{ ...config, prefix: "renamed" }])
    const status = await whenUp(server, "flip")
    expect(status.tools).toContain("renamed__echo")
    const names = await listed(server)
    expect(names).toContain("renamed__echo")
    expect(names.filter((n) => n.startsWith("flip__"))).toEqual([])
    expect(processesWith(marker)).toHaveLength(1)
  })
})

/**
 * Upstream tool lists that change: list_changed from a stdio upstream, the periodic health check that
 * finds changes and silent upstreams, and the names the router gives tools (64 characters, odd
 * characters, collisions), stable across restarts.
 */
import { describe, expect, it } from "vitest"
import {
  callTool,
  cleanupAfterEach,
  everythingServer,
  fixture,
  listed,
  markerDir,
  processesWith,
  recordedPids,
  start,
  stdio,
  stop,
  text,
  upstream,
  waitFor,
  whenUp
} from "./support.ts"

cleanupAfterEach()

const sdkServer = fixture("sdkServer.mjs")
const cheapServer = fixture("cheapServer.mjs")

describe("changing tool lists", () => {
  it("a stdio upstream's list_changed adds its new tool at once, long before the health check", async () => {
    const marker = markerDir()
    // a health check a minute away: only the notification can explain a quick change
    const server = await start({ upstreams: [{ name: "up", healthCheckMs: 60_000, transport: stdio(sdkServer, marker) }] })
    await whenUp(server, "up")
    expect(await listed(server)).not.toContain("up__late")

    const added = await callTool(server, "up__add_tool", { name: "late" })
    expect(text(added.result)).toBe("added late")
    await waitFor("up__late in tools/list", async () => (await listed(server)).includes("up__late"), 20_000)
    expect((await upstream(server, "up"))?.tools).toContain("up__late")
    expect(text((await callTool(server, "up__late")).result)).toBe("I am late")
    // the same connection: no reconnect was needed
    expect(recordedPids(marker)).toHaveLength(1)
  })

  it("the periodic health check finds tools added without a notification", async () => {
    const marker = markerDir()
    const server = await start({ upstreams: [{ name: "cheap", healthCheckMs: 300, transport: stdio(cheapServer, marker, "growing") }] })
    const first = await whenUp(server, "cheap")
    expect(first.tools).not.toContain("cheap__later_tool")
    await waitFor("cheap__later_tool", async () => (await listed(server)).includes("cheap__later_tool"))
    expect(text((await callTool(server, "cheap__later_tool")).result)).toBe("pong from later_tool")
    expect(recordedPids(marker)).toHaveLength(1)
  })

  it("an upstream that stops answering the health check is marked down and replaced by a new process", async () => {
    const marker = markerDir()
    const server = await start({ upstreams: [{ name: "stall", healthCheckMs: 300, transport: stdio(cheapServer, marker, "stalls") }] })
    await whenUp(server, "stall")
    const [first] = recordedPids(marker)
    const down = await waitFor("stall down", async () => {
      const status = await upstream(server, "stall")
      return status?.lastError !== null && status?.reconnectAttempts !== 0 ? status : undefined
    })
    expect(down.lastError).toEqual(expect.any(String))
    // reconnected with a new process; the silent one is not left behind
    await waitFor("a second process", () => recordedPids(marker).length >= 2)
    await waitFor("the first process to end", () => !processesWith(marker).includes(first!))
  })
})

describe("tool names", () => {
  const prefix = "a_forty_character_prefix_for_name_limits"

  it("stay within 64 characters with a long prefix, with a stable hash suffix, and still route", async () => {
    expect(prefix).toHaveLength(40)
    const config = { upstreams: [{ name: "ev", prefix, transport: stdio(everythingServer, "stdio") }] }
    let server = await start(config)
    const status = await whenUp(server, "ev")
    for (const name of status.tools) {
      expect(name.length, name).toBeLessThanOrEqual(64)
      expect(name).toMatch(/^[A-Za-z0-9_.-]+$/)
    }
    expect(status.tools).toContain(`${prefix}__echo`)
    const long = status.tools.find((n) => n.startsWith(`${prefix}__trigger-`))!
    expect(long).toHaveLength(64)
    expect(long).toMatch(/_[0-9a-f]{8}$/)
    expect(await listed(server)).toContain(long)
    const ran = await callTool(server, long, { duration: 0, steps: 1 })
    expect(text(ran.result)).toContain("Long running operation completed")

    // the same names on the next start
    await stop(server)
    server = await start(config)
    expect((await whenUp(server, "ev")).tools).toEqual(status.tools)
  })

  it("a name with other characters, or taken, gets a hash suffix and still reaches its tool", async () => {
    const one = markerDir()
    const two = markerDir()
    const server = await start({
      upstreams: [
        { name: "cheap", transport: stdio(cheapServer, one) },
        { name: "twin", prefix: "cheap", transport: stdio(cheapServer, two) }
      ]
    })
    const a = await whenUp(server, "cheap")
    const b = await whenUp(server, "twin")
    const odd = a.tools.find((n) => n.startsWith("cheap__odd"))!
    expect(odd).toMatch(/^cheap__odd_name__[0-9a-f]{8}$/)
    expect(text((await callTool(server, odd)).result)).toBe("pong from odd name!")
    // both offer ping_tool under the prefix "cheap": one keeps the plain name, the other a suffix
    const pings = [...a.tools, ...b.tools].filter((n) => n.startsWith("cheap__ping_tool"))
    expect(pings).toHaveLength(2)
    expect(pings).toContain("cheap__ping_tool")
    expect(new Set(pings).size).toBe(2)
    for (const name of pings) expect(text((await callTool(server, name)).result)).toBe("pong from ping_tool")
  })
})

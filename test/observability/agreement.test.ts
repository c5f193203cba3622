/**
 * One source of truth: after calls that end ok, in error, with invalid arguments and denied (keys on, a
 * limited key), /metrics, /metrics/prometheus, /api/stats and mcp/stats report the same numbers.
 */
import { describe, expect, it } from "vitest"
import { ADMIN, call, cleanupAfterEach, createKey, jsonRpc, start } from "../security/support.ts"

cleanupAfterEach()

/** Sums of the exposition's samples of `metric` by the value of `label`, for the lines matching `where`. */
const promSums = (text: string, metric: string, label: string, where: Record<string, string> = {}) => {
  const sums: Record<string, number> = {}
  for (const line of text.split("\n")) {
    const match = line.match(/^([a-z_]+)\{([^}]*)\} (\S+)$/)
    if (match === null || match[1] !== metric) continue
    const labels = Object.fromEntries([...match[2]!.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(where).some(([k, v]) => labels[k] !== v)) continue
    sums[labels[label]!] = (sums[labels[label]!] ?? 0) + Number(match[3])
  }
  return sums
}

describe("the numbers of every view", () => {
  it("agree for ok, error, invalid and denied calls", async () => {
    const server = await start()
    const limited = await createKey(server, { permissions: ["read", "tools:list_directory"] })
    const callTool = (key: string, name: string, args: unknown) => jsonRpc(server, key, "tools/call", { name, arguments: args })

    expect((await callTool(ADMIN, "list_directory", {})).json.result.isError).toBeFalsy()
    expect((await callTool(limited.key, "list_directory", {})).json.result.isError).toBeFalsy()
    expect((await callTool(ADMIN, "read_file", { path: "missing.txt" })).json.result.isError).toBe(true)
    expect((await callTool(ADMIN, "read_file", { path: 42 })).json.error.code).toBe(-32602)
    expect((await callTool(limited.key, "read_file", { path: "x" })).json.error.code).toBe(-32003)

    const expected = {
      list_directory: { calls: 2, errors: 0 },
      read_file: { calls: 3, errors: 3 }
    }
    const byOutcome = { list_directory: { ok: 2 }, read_file: { error: 1, invalid: 1, denied: 1 } }

    const stats = (await call(`${server.url}/api/stats`, { key: ADMIN })).json
    const mcpStats = (await jsonRpc(server, ADMIN, "mcp/stats")).json.result
    const metrics = (await call(`${server.url}/metrics`, { key: ADMIN })).json
    const prometheus = (await call(`${server.url}/metrics/prometheus`, { key: ADMIN })).text

    for (const [tool, numbers] of Object.entries(expected)) {
      expect(stats.tools[tool], `/api/stats ${tool}`).toMatchObject(numbers)
      expect(mcpStats.tools[tool], `mcp/stats ${tool}`).toMatchObject(numbers)
      const counters = metrics.counters.filter((c: any) => c.name === "mcp_router_tool_calls_total" && c.attributes.tool === tool)
      expect(Object.fromEntries(counters.map((c: any) => [c.attributes.outcome, c.value])), `/metrics ${tool}`).toEqual(byOutcome[tool as keyof typeof byOutcome])
      expect(promSums(prometheus, "mcp_router_tool_calls_total", "outcome", { tool }), `/metrics/prometheus ${tool}`).toEqual(byOutcome[tool as keyof typeof byOutcome])
      // every call is timed, denied ones included: the histogram counts agree with the counter
      const histogram = metrics.histograms.find((h: any) => h.name === "mcp_router_tool_call_duration_seconds" && h.attributes.tool === tool)
      expect(histogram.count).toBe(numbers.calls)
      expect(promSums(prometheus, "mcp_router_tool_call_duration_seconds_count", "tool")[tool]).toBe(numbers.calls)
      expect(stats.tools[tool].p95Ms).toBeCloseTo(histogram.p95 * 1000, 2)
      expect(mcpStats.tools[tool].p95Ms).toBe(stats.tools[tool].p95Ms)
    }
    expect(stats.totals).toEqual({ calls: 5, errors: 3 })
    expect(mcpStats.totals).toEqual(stats.totals)
    expect(stats.connections).toEqual({ websocket: 0 })
    expect(mcpStats.connections).toEqual(stats.connections)
  })
})

/**
 * Scenarios of the official MCP conformance suite that concern access, run against the router with keys
 * on (the suite's client sends the key as ?api_key=): the router's own and loopback origins are served,
 * rebinding Hosts and foreign origins refused; concurrent streams on one session with mixed
 * MCP-Protocol-Version headers are served.
 */
import { execFile } from "node:child_process"
import * as path from "node:path"
import { afterAll, beforeAll, expect, it } from "vitest"
import { ADMIN, nodeBin, root, type RunningServer, start, stop } from "../security/support.ts"

const cli = path.join(root, "node_modules/@modelcontextprotocol/conformance/dist/index.js")

const runScenario = (url: string, scenario: string) =>
  new Promise<string>((resolve) => {
    execFile(nodeBin, [cli, "server", "--url", url, "--scenario", scenario], { timeout: 60_000 }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`))
  })

let server: RunningServer
beforeAll(async () => {
  server = await start({ security: { allowQueryApiKey: true } })
})
afterAll(() => stop(server))

for (const scenario of ["dns-rebinding-protection", "server-sse-multiple-streams"]) {
  it(`passes ${scenario}`, async () => {
    const output = await runScenario(`${server.url}/mcp?api_key=${ADMIN}`, scenario)
    expect(output).toMatch(/Passed: (\d+)\/\1, 0 failed/)
  }, 90_000)
}

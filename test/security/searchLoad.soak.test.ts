/**
 * 400 search_files calls in flight while /health/live is probed from a worker thread: every call is
 * answered or refused as busy, and the liveness probe stays under 100 ms. A load test: it runs in the
 * soak suite (alone on the machine, `npm run test:soak`), where no other test file competes for the cores.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import { Worker } from "node:worker_threads"
import { afterEach, expect, it } from "vitest"
import { type RunningServer, startServer } from "../support/server.ts"
import { ADMIN, call } from "./support.ts"

const servers: Array<RunningServer> = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

const serve = async (tools: Record<string, unknown>) => {
  const server = await startServer({
    tools,
    security: { requireApiKey: true, adminKey: ADMIN, adminRequestsPerMinute: 1_000_000, adminRequestsPerHour: 1_000_000 }
  })
  servers.push(server)
  return server
}

const callTool = (server: RunningServer, name: string, args: Record<string, unknown> = {}) =>
  call(`${server.url}/api/mcp/jsonrpc`, { key: ADMIN, timeoutMs: 45_000, body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } } })

/** Probes `url` every 20 ms from a worker thread (its own event loop, so the test's work does not count) until told to stop; answers the slowest. */
const probeFromWorker = (url: string) => {
  const worker = new Worker(`
    const { parentPort, workerData } = require("node:worker_threads")
    let slowest = 0, failures = 0, stop = false
    parentPort.on("message", () => { stop = true })
    ;(async () => {
      // the first request sets up the probe's own connection: not the server's time
      await fetch(workerData.url).then((r) => r.text(), () => undefined)
      while (!stop) {
        const started = performance.now()
        try { const r = await fetch(workerData.url); if (r.status !== 200) failures++; await r.text() } catch { failures++ }
        slowest = Math.max(slowest, performance.now() - started)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      parentPort.postMessage({ slowest, failures })
    })()
  `, { eval: true, workerData: { url } })
  return {
    stop: () =>
      new Promise<{ slowest: number; failures: number }>((resolve) => {
        worker.once("message", (result) => void worker.terminate().then(() => resolve(result)))
        worker.postMessage("stop")
      })
  }
}

it("400 concurrent search_files calls: bounded, answered or refused as busy, and /health/live stays under 100 ms", async () => {
  const server = await serve({ concurrency: { search: 2 }, maxQueuedCalls: 20, maxSearchResults: 50 })
  for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(server.workingDir, `f${i}.txt`), `line ${i}\n`.repeat(200))
  const probe = probeFromWorker(`${server.url}/health/live`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  // 400 calls in flight together, sent 5 ms apart: the load is the tools', not one burst of parsing
  const pending: Array<Promise<{ json: any }>> = []
  for (let i = 0; i < 400; i++) {
    pending.push(callTool(server, "search_files", { pattern: "*.txt", contentRegex: `line ${i % 50}$` }))
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const answered = await Promise.all(pending)
  const { slowest, failures } = await probe.stop()
  const busy = answered.filter((r) => r.json?.error?.code === -32053).length
  const served = answered.filter((r) => r.json?.result !== undefined).length
  expect(busy + served).toBe(400)
  expect(busy).toBeGreaterThan(0)
  expect(served).toBeGreaterThanOrEqual(22)
  expect(failures).toBe(0)
  expect(slowest).toBeLessThan(100)
}, 60_000)

/**
 * A real Prometheus scrapes /metrics/prometheus and answers a query with the router's tool-call counter;
 * promtool accepts the exposition. The binaries come from Debian's prometheus package: .ci/prometheus.sh
 * installs it and .ci/run exports MCP_TEST_PROMETHEUS_BIN; without it these tests are skipped.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { makeTempDir, type RunningServer, startServer } from "../support/server.ts"

const which = (name: string) => {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" })
  return found.status === 0 ? found.stdout.trim() : undefined
}
const prometheusBin = process.env["MCP_TEST_PROMETHEUS_BIN"] || which("prometheus")
const promtoolBin = prometheusBin === undefined ? undefined : [path.join(path.dirname(prometheusBin), "promtool"), which("promtool")].find((p) => p !== undefined && fs.existsSync(p))

if (prometheusBin === undefined) {
  console.warn("Prometheus tests skipped: no prometheus binary (run `bash .ci/prometheus.sh`, or set MCP_TEST_PROMETHEUS_BIN)")
}

const freePort = () =>
  new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = probe.address() as net.AddressInfo
      probe.close(() => resolve(port))
    })
  })

const toolCall = (server: RunningServer, id: number, name: string, args: unknown) =>
  fetch(`${server.url}/api/mcp/jsonrpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id, method: "tools/call", params: { name, arguments: args } })
  }).then((r) => r.json() as Promise<any>)

describe.skipIf(prometheusBin === undefined)("Prometheus", () => {
  let router: RunningServer
  let prometheus: ChildProcess | undefined
  let prometheusUrl = ""
  let prometheusLog = ""
  const dir = makeTempDir("mcp-prometheus-")

  beforeAll(async () => {
    router = await startServer()
    fs.writeFileSync(path.join(router.workingDir, "hello.txt"), "hello")
    const routerPort = new URL(router.url).port
    fs.writeFileSync(path.join(dir, "prometheus.yml"), [
      "global:",
      "  scrape_interval: 1s",
      "scrape_configs:",
      "  - job_name: mcp-router",
      "    metrics_path: /metrics/prometheus",
      "    static_configs:",
      `      - targets: ["127.0.0.1:${routerPort}"]`,
      ""
    ].join("\n"))
    const port = await freePort()
    prometheusUrl = `http://127.0.0.1:${port}`
    prometheus = spawn(prometheusBin!, [
      `--config.file=${path.join(dir, "prometheus.yml")}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ], { stdio: ["ignore", "pipe", "pipe"] })
    prometheus.stdout!.on("data", (chunk: Buffer) => (prometheusLog += chunk.toString()))
    prometheus.stderr!.on("data", (chunk: Buffer) => (prometheusLog += chunk.toString()))
  })

  afterAll(async () => {
    if (prometheus !== undefined && prometheus.exitCode === null) {
      const exited = new Promise((resolve) => prometheus!.once("exit", resolve))
      prometheus.kill("SIGTERM")
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
      if (prometheus.exitCode === null) prometheus.kill("SIGKILL")
    }
    await router?.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("scrapes the router, and a query returns its tool-call counter", async () => {
    const calls = 5
    for (let id = 1; id <= calls; id++) {
      const reply = await toolCall(router, id, "read_file", { path: "hello.txt" })
      expect(reply.result.isError, JSON.stringify(reply)).toBeFalsy()
    }
    const query = `${prometheusUrl}/api/v1/query?query=${encodeURIComponent('mcp_router_tool_calls_total{tool="read_file",outcome="ok"}')}`
    const deadline = Date.now() + 30_000
    let value: string | undefined
    let last = ""
    while (Date.now() < deadline) {
      try {
        const body = (await (await fetch(query)).json()) as any
        last = JSON.stringify(body)
        value = body.data?.result?.[0]?.value?.[1]
        if (value === String(calls)) break
      } catch (error) {
        last = String(error) // not listening yet
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(value, `last answer: ${last}\nprometheus log:\n${prometheusLog.slice(-2000)}`).toBe(String(calls))

    // the scrape itself succeeded: Prometheus's own view of the target
    const up = (await (await fetch(`${prometheusUrl}/api/v1/query?query=up`)).json()) as any
    expect(up.data.result[0].value[1]).toBe("1")
  }, 45_000)

  it.skipIf(promtoolBin === undefined)("promtool check metrics accepts the exposition", async () => {
    await toolCall(router, 99, "list_directory", {})
    const exposition = await (await fetch(`${router.url}/metrics/prometheus`)).text()
    // promtool exits 1 on any problem and names it on stdout/stderr
    const output = execFileSync(promtoolBin!, ["check", "metrics"], { input: exposition, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"] })
    expect(output.trim()).toBe("")
  })
})

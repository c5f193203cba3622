/**
 * deploy/prometheus and deploy/grafana against the real thing: promtool accepts the Prometheus
 * configuration and the alert rules; every dashboard query is valid PromQL; every metric that a rule or a
 * dashboard query names is in a running router's /metrics/prometheus (the router started with an
 * upstream, a WebSocket client, a rate-limited key and failing requests, so every series exists); and a
 * real Prometheus, configured by deploy/prometheus/prometheus.yml, scrapes the router with its key and
 * evaluates every alert rule and every dashboard query without an error.
 *
 * promtool and prometheus come from Debian's prometheus package (.ci/prometheus.sh); without them these
 * tests are skipped, except under CI, where they fail.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { parse, stringify } from "yaml"
import { freePort, makeTempDir, nodeBin, root, run, waitForStatus } from "./support.ts"

const which = (name: string) => {
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" })
  return found.status === 0 ? found.stdout.trim() : undefined
}
const prometheusBin = process.env["MCP_TEST_PROMETHEUS_BIN"] || which("prometheus")
const promtoolBin = [prometheusBin && path.join(path.dirname(prometheusBin), "promtool"), which("promtool")]
  .find((p): p is string => typeof p === "string" && fs.existsSync(p))
const inCi = process.env["CI"] !== undefined && process.env["CI"] !== "" && process.env["CI"] !== "false"
const skip = (prometheusBin === undefined || promtoolBin === undefined) && !inCi
if (skip) console.warn("test/deploy/monitoring.test.ts skipped: no prometheus/promtool (bash .ci/prometheus.sh installs them)")

const deploy = path.join(root, "deploy")
const rulesFile = path.join(deploy, "prometheus/rules/mcp-router.yml")
const dashboardFile = path.join(deploy, "grafana/dashboards/mcp-router.json")
const adminKey = "mcp_monitoring_test_admin_key_0123456789"

interface Panel { readonly type: string; readonly title: string; readonly targets?: ReadonlyArray<{ readonly expr: string }>; readonly panels?: ReadonlyArray<Panel> }
const dashboard = JSON.parse(fs.readFileSync(dashboardFile, "utf8")) as { readonly panels: ReadonlyArray<Panel> }
const allPanels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])])
/** Every dashboard query, with Grafana's variables as a scrape of one router would have them. */
const dashboardQueries = allPanels.flatMap((panel) => (panel.targets ?? []).map((target) => ({
  panel: panel.title,
  expr: target.expr.replaceAll("$__rate_interval", "1m").replaceAll("$job", "mcp-router").replaceAll("$instance", ".*")
})))
const alertRules = (parse(fs.readFileSync(rulesFile, "utf8")) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules)

/** Metric names a query reads (the router's own: mcp_router_*, process_*, nodejs_*). */
const metricNames = (expr: string) => [...new Set(expr.match(/\b(?:mcp_router|process|nodejs)_[a-z0-9_]+\b/g) ?? [])]

/** The dashboard's queries as recording rules, so promtool and Prometheus check and evaluate them. */
const dashboardAsRules = () =>
  stringify({
    groups: [{
      name: "dashboard",
      rules: dashboardQueries.map((query, i) => ({ record: `dashboard:query_${i}`, expr: query.expr }))
    }]
  })

describe.skipIf(skip)("monitoring (deploy/prometheus, deploy/grafana)", () => {
  const dir = makeTempDir("mcp-router-monitoring-")
  let router: ChildProcess | undefined
  let routerLog = ""
  let routerUrl = ""
  let exposition = ""
  let prometheus: ChildProcess | undefined
  let prometheusLog = ""
  let socket: WebSocket | undefined

  beforeAll(async () => {
    // the router, with an upstream (the official "everything" server over stdio), keys on
    const port = await freePort()
    routerUrl = `http://127.0.0.1:${port}`
    const workspace = path.join(dir, "workspace")
    fs.mkdirSync(workspace)
    fs.writeFileSync(path.join(workspace, "hello.txt"), "hello")
    const config = {
      server: { port, host: "127.0.0.1" },
      storage: { dataDir: path.join(dir, "data") },
      tools: { workingDir: workspace },
      logging: { level: "warn" },
      upstreams: [{
        name: "ev",
        transport: { type: "stdio", command: nodeBin, args: [path.join(root, "node_modules/@modelcontextprotocol/server-everything/dist/index.js"), "stdio"] }
      }]
    }
    fs.writeFileSync(path.join(dir, "router.json"), JSON.stringify(config))
    router = spawn(nodeBin, [path.join(root, "src/main.ts"), "serve", "--config", path.join(dir, "router.json")], {
      cwd: dir,
      env: { PATH: process.env["PATH"] ?? "", HOME: dir, MCP_ADMIN_KEY: adminKey },
      stdio: ["ignore", "pipe", "pipe"]
    })
    router.stdout!.on("data", (chunk: Buffer) => (routerLog += chunk.toString()))
    router.stderr!.on("data", (chunk: Buffer) => (routerLog += chunk.toString()))
    await waitForStatus(`${routerUrl}/health/ready`, 200, 60_000, router).catch((error) => {
      throw new Error(`${String(error)}\n${routerLog}`)
    })
    socket = await exercise(routerUrl)
    // the router counts a WebSocket close when its own socket has closed, which can come after the
    // client's: scraped again until that close is in (the test below names anything still missing)
    for (const until = Date.now() + 10_000;;) {
      const scraped = await fetch(`${routerUrl}/metrics/prometheus`, { headers: { Authorization: `Bearer ${adminKey}` } })
      expect(scraped.status).toBe(200)
      exposition = await scraped.text()
      if (exposition.includes("mcp_router_websocket_closes_total") || Date.now() > until) break
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }, 120_000)

  afterAll(async () => {
    socket?.close()
    for (const child of [prometheus, router]) {
      if (child === undefined || child.exitCode !== null) continue
      const exited = new Promise((resolve) => child.once("exit", resolve))
      child.kill("SIGTERM")
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))])
      if (child.exitCode === null) child.kill("SIGKILL")
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }, 30_000)

  it("promtool accepts deploy/prometheus/prometheus.yml with its alert rules", async () => {
    const copy = path.join(dir, "prometheus-check")
    fs.cpSync(path.join(deploy, "prometheus"), copy, { recursive: true })
    // the scrape key is a compose secret at /run/secrets/mcp_admin_key; promtool checks that the file exists
    const keyFile = path.join(dir, "scrape-key")
    fs.writeFileSync(keyFile, adminKey)
    const configFile = path.join(copy, "prometheus.yml")
    fs.writeFileSync(configFile, fs.readFileSync(configFile, "utf8").replace("/run/secrets/mcp_admin_key", keyFile))
    const checked = await run(promtoolBin!, ["check", "config", configFile])
    expect(checked.stdout + checked.stderr).toContain(`SUCCESS: ${alertRules.length} rules found`)
    expect(checked.code).toBe(0)
    const rules = await run(promtoolBin!, ["check", "rules", rulesFile])
    expect(rules.code, rules.stdout + rules.stderr).toBe(0)
  })

  it("has alert rules for the error rate, latency, an upstream down and the audit store failing", () => {
    const names = alertRules.map((rule) => rule.alert)
    expect(names).toEqual(expect.arrayContaining(["McpRouterToolErrorRate", "McpRouterToolLatencyP95", "McpRouterUpstreamDown", "McpRouterAuditStoreFailing"]))
  })

  it("every dashboard query is valid PromQL (promtool)", async () => {
    expect(dashboardQueries.length).toBeGreaterThan(20)
    const file = path.join(dir, "dashboard-rules.yml")
    fs.writeFileSync(file, dashboardAsRules())
    const checked = await run(promtoolBin!, ["check", "rules", file])
    expect(checked.code, checked.stdout + checked.stderr).toBe(0)
  })

  it("shows what the issue asks for: routes, tools and outcomes, latency percentiles, rate limits, upstreams, WebSocket, sessions, memory and CPU", () => {
    const text = dashboardQueries.map((query) => query.expr).join("\n")
    for (const needed of [
      /sum by \(route\) \(rate\(mcp_router_http_requests_total/,
      /sum by \(route, status\) \(rate\(mcp_router_http_requests_total\{[^}]*status=~"4\.\.\|5\.\."/,
      /sum by \(tool, outcome\) \(rate\(mcp_router_tool_calls_total/,
      /histogram_quantile\(0\.95, sum by \(le\) \(rate\(mcp_router_tool_call_duration_seconds_bucket/,
      /histogram_quantile\(0\.99,/,
      /mcp_router_rate_limited_total/,
      /mcp_router_upstream_up/,
      /mcp_router_websocket_connections/,
      /mcp_router_mcp_sessions/,
      /process_resident_memory_bytes/,
      /rate\(process_cpu_seconds/
    ]) {
      expect(text).toMatch(needed)
    }
  })

  it("every metric the dashboard and the alert rules name is in the router's /metrics/prometheus", () => {
    const exported = new Set(exposition.split("\n").filter((line) => line !== "" && !line.startsWith("#")).map((line) => line.split(/[{ ]/)[0]))
    const used = new Map<string, string>()
    for (const query of dashboardQueries) for (const name of metricNames(query.expr)) used.set(name, `dashboard panel "${query.panel}"`)
    for (const rule of alertRules) for (const name of metricNames(rule.expr)) used.set(name, `alert ${rule.alert}`)
    expect(used.size).toBeGreaterThan(15)
    const missing = [...used].filter(([name]) => !exported.has(name)).map(([name, where]) => `${name} (${where})`)
    expect(missing, `exported: ${[...exported].sort().join(", ")}`).toEqual([])
  })

  it("a real Prometheus configured by deploy/prometheus scrapes the router with its key and evaluates every rule and dashboard query", async () => {
    const config = parse(fs.readFileSync(path.join(deploy, "prometheus/prometheus.yml"), "utf8"))
    const keyFile = path.join(dir, "scrape-key")
    fs.writeFileSync(keyFile, adminKey)
    const rulesDir = path.join(dir, "prometheus-run", "rules")
    fs.mkdirSync(rulesDir, { recursive: true })
    fs.copyFileSync(rulesFile, path.join(rulesDir, "mcp-router.yml"))
    fs.writeFileSync(path.join(rulesDir, "dashboard.yml"), dashboardAsRules())
    // the shipped file, with this router as the target, the key's file here, and quick intervals
    config.global = { ...config.global, scrape_interval: "1s", evaluation_interval: "1s" }
    const job = config.scrape_configs.find((c: { job_name: string }) => c.job_name === "mcp-router")
    job.authorization.credentials_file = keyFile
    job.static_configs = [{ targets: [new URL(routerUrl).host] }]
    const configFile = path.join(dir, "prometheus-run", "prometheus.yml")
    fs.writeFileSync(configFile, stringify(config))

    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    prometheus = spawn(prometheusBin!, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${path.join(dir, "prometheus-run", "data")}`,
      `--web.listen-address=127.0.0.1:${port}`
    ], { stdio: ["ignore", "pipe", "pipe"] })
    prometheus.stdout!.on("data", (chunk: Buffer) => (prometheusLog += chunk.toString()))
    prometheus.stderr!.on("data", (chunk: Buffer) => (prometheusLog += chunk.toString()))
    await waitForStatus(`${url}/-/ready`, 200, 30_000, prometheus).catch((error) => {
      throw new Error(`${String(error)}\n${prometheusLog}`)
    })

    // the scrape succeeds with the key (a wrong or missing key would leave up at 0)
    const until = Date.now() + 30_000
    let up: any
    for (;;) {
      up = await fetch(`${url}/api/v1/query?query=${encodeURIComponent('up{job="mcp-router"}')}`).then((r) => r.json())
      if (up.data?.result?.[0]?.value?.[1] === "1") break
      if (Date.now() > until) throw new Error(`up{job="mcp-router"} is not 1: ${JSON.stringify(up)}\n${prometheusLog}`)
      await new Promise((r) => setTimeout(r, 500))
    }
    // wait for two evaluations after the first scrape, then every rule must have been evaluated without error
    await new Promise((r) => setTimeout(r, 3000))
    const rules = await fetch(`${url}/api/v1/rules`).then((r) => r.json() as Promise<any>)
    const evaluated = rules.data.groups.flatMap((group: any) => group.rules.map((rule: any) => ({ group: group.name, name: rule.name, health: rule.health, error: rule.lastError })))
    expect(evaluated.length).toBe(alertRules.length + dashboardQueries.length)
    expect(evaluated.filter((rule: any) => rule.health !== "ok")).toEqual([])
    // and they read data: the router's build info, its tool calls, its upstream
    const query = async (expr: string) =>
      (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`).then((r) => r.json() as Promise<any>)).data.result
    expect(await query('mcp_router_build_info{job="mcp-router"}')).toHaveLength(1)
    expect(await query('mcp_router_upstream_up{upstream="ev"} == 1')).toHaveLength(1)
    expect(await query('mcp_router_audit_store_failing == 0')).toHaveLength(1)
    const firing = (await fetch(`${url}/api/v1/alerts`).then((r) => r.json() as Promise<any>)).data.alerts.map((a: any) => a.labels.alertname)
    expect(firing).not.toContain("McpRouterAuditStoreFailing")
    expect(firing).not.toContain("McpRouterUpstreamDown")
  }, 90_000)
})

/** Makes the router record every kind of metric the dashboard and rules read. */
const exercise = async (url: string) => {
  const auth = { Authorization: `Bearer ${adminKey}` }
  const rpc = (body: unknown, headers: Record<string, string> = auth) =>
    fetch(`${url}/api/mcp/jsonrpc`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) })
  // tool calls: ok, and an error
  expect((await rpc({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: { path: "hello.txt" } } })).status).toBe(200)
  await rpc({ jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "read_file", arguments: { path: "missing.txt" } } })
  // a JSON-RPC error, a failed authentication, a request from a refused origin
  await rpc({ jsonrpc: "2.0", id: 3, method: "no/such/method" })
  await rpc({ jsonrpc: "2.0", id: 4, method: "ping" }, { Authorization: "Bearer mcp_not_a_key" })
  await fetch(`${url}/mcp`, { method: "POST", headers: { ...auth, Origin: "http://evil.example", "content-type": "application/json" }, body: "{}" })
  // the upstream: connected, and called
  const until = Date.now() + 30_000
  for (;;) {
    const listed = await (await rpc({ jsonrpc: "2.0", id: 5, method: "tools/list" })).json() as any
    if (listed.result?.tools?.some((tool: { name: string }) => tool.name === "ev__echo")) break
    if (Date.now() > until) throw new Error("the upstream's tools did not appear")
    await new Promise((r) => setTimeout(r, 250))
  }
  const echoed = await (await rpc({ jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "ev__echo", arguments: { message: "hi" } } })).json() as any
  expect(echoed.result?.isError ?? false).toBe(false)
  // a key limited to one call a minute, used twice
  const created = await fetch(`${url}/config`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ "security.createApiKey": { name: "limited", permissions: ["execute"], ratePerMinute: 1 } })
  }).then((r) => r.json() as Promise<any>)
  const limitedKey = JSON.stringify(created).match(/mcp_[A-Za-z0-9_-]{43}/)![0]
  // limits are counted per tool call: the second is refused
  const limited = []
  for (let i = 0; i < 3; i++) {
    limited.push((await rpc({ jsonrpc: "2.0", id: 7 + i, method: "tools/call", params: { name: "read_file", arguments: { path: "hello.txt" } } }, { Authorization: `Bearer ${limitedKey}` })).status)
  }
  expect(limited).toContain(429)
  // a WebSocket client: connected, a message each way, still open while the metrics are read
  const socket = new WebSocket(`${url.replace("http", "ws")}/ws`, { headers: auth })
  await new Promise<void>((resolve, reject) => {
    socket.once("error", reject)
    socket.once("open", () => {
      socket.send(JSON.stringify({ type: "subscribe", room: "tool-executions" }))
      socket.once("message", () => resolve())
    })
  })
  // a second one, closed, so a close is counted
  const closed = new WebSocket(`${url.replace("http", "ws")}/ws`, { headers: auth })
  await new Promise<void>((resolve, reject) => {
    closed.once("error", reject)
    closed.once("open", () => closed.close(1000))
    closed.once("close", () => resolve())
  })
  return socket
}

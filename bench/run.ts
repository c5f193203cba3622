/**
 * `npm run bench`: the router side by side with reference servers doing the same work, under the same
 * load, in interleaved runs. A benchmark, not a test (not part of `npm test`).
 *
 * Servers (child processes on loopback ports, started fresh for each scenario):
 * - the router, `node bin/mcp-router.js serve` (dist/ when built and current): keys on (every request carries a key), rate limits on at the
 *   highest values the configuration allows, audit on, logging at warn;
 * - bench/reference/sdkServer.ts: the official SDK's stateful Streamable HTTP server (the /mcp reference);
 * - bench/reference/bareServer.ts: a bare node:http JSON-RPC server (the /api/mcp/jsonrpc reference);
 * - for the `replicas` scenario, three routers sharing Redis (redis.url: a redis-server of the run's own,
 *   or BENCH_REDIS_URL) and a PostgreSQL database made for the run (storage.url, on the server of
 *   BENCH_POSTGRES_URL or MCP_TEST_POSTGRES_URL) behind a round-robin TCP proxy (bench/lib/roundRobinProxy.ts:
 *   each connection to the next replica, no stickiness); skipped, saying why, without Redis or PostgreSQL.
 * All read the same 100-byte file in a temporary working directory.
 *
 * Settings (environment): BENCH_DURATION seconds per run (10), BENCH_ROUNDS (3), BENCH_CONNECTIONS (50),
 * BENCH_SESSIONS idle sessions of the memory scenario (10000), BENCH_WARMUP seconds (2), BENCH_SCENARIOS
 * (comma list of mcp-call, mcp-ping, jsonrpc-call, jsonrpc-ping, ws-call, sessions, replicas). `--quick` (or
 * BENCH_QUICK=1) means 3 s, 1 round, 1,000 sessions unless set otherwise.
 *
 * Results: a table on stdout, JSON in bench/results/<timestamp>.json.
 */
import { execFileSync } from "node:child_process"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import {
  closeSessions,
  createKey,
  openSessions,
  probe,
  protocolVersion,
  runHttp,
  runWs,
  sleep
} from "./lib/load.ts"
import {
  cells,
  header,
  mainRight,
  renderConsole,
  renderMarkdown,
  type RoundResult,
  type Row,
  type ServerSummary,
  type SessionsSummary,
  sessionRows,
  startCells,
  startHeader,
  startRight,
  type StartSummary,
  summarize,
  throughputRows
} from "./lib/report.ts"
import { sharedStores, startProxy } from "./lib/replicas.ts"
import { killAll, otherCpu, repoRoot, rssOf, sampleRss, type Server, startReference, startRouter } from "./lib/servers.ts"

// ---------------------------------------------------------------- settings

const quick = process.argv.includes("--quick") || process.env["BENCH_QUICK"] === "1"
const numberSetting = (name: string, fallback: number, min: number, max: number) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`${name}=${raw}: expected a number from ${min} to ${max}`)
  return value
}
const durationS = numberSetting("BENCH_DURATION", quick ? 3 : 10, 1, 600)
const rounds = Math.round(numberSetting("BENCH_ROUNDS", quick ? 1 : 3, 1, 20))
const connections = Math.round(numberSetting("BENCH_CONNECTIONS", 50, 1, 150))
const sessionCount = Math.round(numberSetting("BENCH_SESSIONS", quick ? 1000 : 10_000, 100, 50_000))
const warmupS = numberSetting("BENCH_WARMUP", Math.min(2, durationS), 0, 60)
const allScenarios = ["mcp-call", "mcp-ping", "jsonrpc-call", "jsonrpc-ping", "ws-call", "sessions", "replicas"] as const
type ScenarioId = (typeof allScenarios)[number]
const selected: ReadonlyArray<ScenarioId> = (() => {
  const raw = process.env["BENCH_SCENARIOS"]
  if (raw === undefined || raw.trim() === "") return allScenarios
  const names = raw.split(",").map((s) => s.trim()).filter((s) => s !== "")
  for (const name of names) if (!(allScenarios as ReadonlyArray<string>).includes(name)) throw new Error(`BENCH_SCENARIOS: unknown scenario ${name}; one of ${allScenarios.join(", ")}`)
  return allScenarios.filter((id) => names.includes(id))
})()

// ---------------------------------------------------------------- cleanup and the hard bound

let tempRoot: string | undefined
const removeTemp = () => {
  if (tempRoot !== undefined) fs.rmSync(tempRoot, { recursive: true, force: true })
  tempRoot = undefined
}
process.on("exit", () => {
  killAll()
  removeTemp()
})
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    process.stderr.write(`\nbench: ${signal}, stopping the servers\n`)
    killAll()
    removeTemp()
    process.exit(130)
  })
}
const perHttpScenario = 2 * warmupS + rounds * 2 * (durationS + 0.5) + 5
const estimateS = selected.reduce((total, id) =>
  total + (id === "sessions" ? 10 + sessionCount / 400 : id === "ws-call" ? warmupS + rounds * (durationS + 0.5) + 5 : id === "replicas" ? warmupS + rounds * (durationS + 0.5) + 30 : perHttpScenario), 0)
const boundS = Math.ceil(estimateS * 3 + 120)
const watchdog = setTimeout(() => {
  process.stderr.write(`\nbench: still running after ${boundS} s (estimate ${Math.round(estimateS)} s); stopping\n`)
  killAll()
  removeTemp()
  process.exit(1)
}, boundS * 1000)
watchdog.unref()

const log = (line: string) => process.stderr.write(`${line}\n`)

// ---------------------------------------------------------------- the workload

const fileText = "MCP Router Pro bench: one hundred bytes of text read by every server under test, again and again...\n"
if (Buffer.byteLength(fileText) !== 100) throw new Error(`the file must be 100 bytes, not ${Buffer.byteLength(fileText)}`)
const fileName = "bench.txt"
const callBody = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: { path: fileName } } })
const pingBody = JSON.stringify({ jsonrpc: "2.0", id: 1, method: "ping" })

interface HttpScenario {
  readonly id: ScenarioId
  readonly title: string
  readonly reference: "sdk" | "bare"
  readonly routerPath: string
  readonly referencePath: string
  readonly body: string
  readonly sessions: boolean
  readonly check: (result: Record<string, unknown> | undefined) => boolean
}

const isCallOk = (result: Record<string, unknown> | undefined) => {
  const content = result?.["content"] as Array<{ text?: unknown }> | undefined
  return result?.["isError"] === false && content?.[0]?.text === fileText
}
const isPingOk = (result: Record<string, unknown> | undefined) => result !== undefined && Object.keys(result).length === 0

const httpScenarios: ReadonlyArray<HttpScenario> = [
  { id: "mcp-call", title: "/mcp tools/call read_file", reference: "sdk", routerPath: "/mcp", referencePath: "/mcp", body: callBody, sessions: true, check: isCallOk },
  { id: "mcp-ping", title: "/mcp ping", reference: "sdk", routerPath: "/mcp", referencePath: "/mcp", body: pingBody, sessions: true, check: isPingOk },
  { id: "jsonrpc-call", title: "/api/mcp/jsonrpc tools/call read_file", reference: "bare", routerPath: "/api/mcp/jsonrpc", referencePath: "/api/mcp/jsonrpc", body: callBody, sessions: false, check: isCallOk },
  { id: "jsonrpc-ping", title: "/api/mcp/jsonrpc ping", reference: "bare", routerPath: "/api/mcp/jsonrpc", referencePath: "/api/mcp/jsonrpc", body: pingBody, sessions: false, check: isPingOk }
]

// ---------------------------------------------------------------- set-up

const machine = () => {
  const cpus = os.cpus()
  const git = (args: ReadonlyArray<string>) => {
    try {
      return execFileSync("git", args, { cwd: repoRoot, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim()
    } catch {
      return undefined
    }
  }
  const version = (name: string) => {
    try {
      return (JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", name, "package.json"), "utf8")) as { version: string }).version
    } catch {
      return undefined
    }
  }
  return {
    cores: os.availableParallelism(),
    cpu: cpus[0]?.model ?? "unknown",
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
    autocannon: version("autocannon"),
    sdk: version("@modelcontextprotocol/sdk"),
    commit: git(["rev-parse", "--short", "HEAD"]),
    /** Edits of the router's code not in that commit when the run began (the run measures the working tree). */
    uncommitted: (git(["status", "--porcelain", "--untracked-files=no", "--", "src", "bin", "package.json"]) ?? "").split("\n").filter((line) => line !== "")
  }
}

const adminKey = `bench-admin-${randomBytes(16).toString("hex")}`
let keyCount = 0
const starts = new Map<string, { starts: Array<number>; idleRss: Array<number> }>()

const noteStart = (server: Server) => {
  const entry = starts.get(server.name) ?? { starts: [], idleRss: [] }
  entry.starts.push(server.startMs)
  entry.idleRss.push(rssOf(server.pid) ?? 0)
  starts.set(server.name, entry)
}

const setUp = () => {
  tempRoot = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-bench-"))
  const workingDir = path.join(tempRoot, "work")
  fs.mkdirSync(workingDir)
  fs.writeFileSync(path.join(workingDir, fileName), fileText)
  const configFile = path.join(tempRoot, "config.json")
  fs.writeFileSync(configFile, JSON.stringify({
    security: { adminRequestsPerMinute: 1_000_000, adminRequestsPerHour: 1_000_000 },
    mcp: { maxSessions: sessionCount + 1_000, maxSessionsPerKey: sessionCount + 1_000 }
  }, null, 2))
  return { root: tempRoot, workingDir, configFile }
}
type Setup = ReturnType<typeof setUp>

const withServers = async <A>(setup: Setup, scenario: string, references: ReadonlyArray<"sdk" | "bare">, f: (router: Server, refs: ReadonlyArray<Server>) => Promise<A>) => {
  const started: Array<Server> = []
  try {
    const router = await startRouter({ adminKey, configFile: setup.configFile, workingDir: setup.workingDir, dataDir: path.join(setup.root, `data-${scenario}`) })
    started.push(router)
    noteStart(router)
    const refs: Array<Server> = []
    for (const name of references) {
      const ref = await startReference(name, setup.workingDir)
      started.push(ref)
      noteStart(ref)
      refs.push(ref)
    }
    return await f(router, refs)
  } finally {
    await Promise.all(started.map((server) => server.stop()))
  }
}

const newKey = (router: Server, label: string) => createKey(router.url, adminKey, `bench-${label}-${++keyCount}`)

const fmt = (r: { reqPerSec: number; p50: number; p99: number; peakRss: number; non2xx: number; errors: number; mismatches: number; otherCpu: number }) =>
  `${Math.round(r.reqPerSec).toLocaleString("en-US")} req/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, peak RSS ${Math.round(r.peakRss / 2 ** 20)} MB` +
  (r.non2xx + r.errors + r.mismatches > 0 ? `, non-2xx ${r.non2xx}, errors ${r.errors}, wrong bodies ${r.mismatches}` : "") +
  (r.otherCpu >= 0.1 ? ` (other processes used ${r.otherCpu.toFixed(2)} cores meanwhile)` : "")

// ---------------------------------------------------------------- scenarios

/** Learns the exact answer of one request (checked for the right content), then loads a server with it. */
const httpRun = async (router: Server, server: Server, scenario: HttpScenario, seconds: number, label: string, expectBody?: string) => {
  const key = await newKey(router, label)
  const url = `${server.url}${server === router ? scenario.routerPath : scenario.referencePath}`
  const opened = scenario.sessions ? (await openSessions(server.url, key, connections)).ids : undefined
  try {
    let expected = expectBody
    if (expected === undefined) {
      const answer = await probe(url, key, scenario.body, opened?.[0])
      const parsed = JSON.parse(answer.body) as { result?: Record<string, unknown> }
      if (answer.status !== 200 || !(answer.contentType ?? "").startsWith("application/json") || !scenario.check(parsed.result)) {
        throw new Error(`${server.name} ${scenario.id}: unexpected answer ${answer.status} ${answer.contentType}: ${answer.body.slice(0, 500)}`)
      }
      expected = answer.body
    }
    const sampler = sampleRss(server.pid)
    const others = otherCpu()
    const result = await runHttp({ url, key, body: scenario.body, connections, durationS: seconds, sessions: opened, expectBody: expected })
    return { result: { ...result, otherCpu: others.stop(), peakRss: sampler.stop() }, expected }
  } finally {
    if (opened !== undefined) await closeSessions(server.url, key, opened)
  }
}

const runHttpScenario = (setup: Setup, scenario: HttpScenario) =>
  withServers(setup, scenario.id, [scenario.reference], async (router, [reference]) => {
    const servers = [router, reference!]
    const expected = new Map<Server, string>()
    for (const server of servers) {
      const warm = await httpRun(router, server, scenario, Math.max(warmupS, 0.5), "warmup")
      expected.set(server, warm.expected)
      log(`  warm-up ${server.name}: ${fmt(warm.result)}`)
    }
    const results = new Map<Server, Array<RoundResult>>(servers.map((s) => [s, []]))
    for (let round = 1; round <= rounds; round++) {
      // alternate who goes first, so neither always runs on the warmer (or more tired) machine
      for (const server of round % 2 === 1 ? servers : [...servers].reverse()) {
        await sleep(300)
        const { result } = await httpRun(router, server, scenario, durationS, `${scenario.id}-r${round}`, expected.get(server))
        results.get(server)!.push({ ...result, round })
        log(`  round ${round} ${server.name}: ${fmt(result)}`)
      }
    }
    return {
      router: summarize(router.name, results.get(router)!),
      reference: summarize(reference!.name, results.get(reference!)!)
    }
  })

const runWsScenario = (setup: Setup) =>
  withServers(setup, "ws-call", [], async (router) => {
    const load = async (seconds: number, label: string) => {
      const key = await newKey(router, label)
      const sampler = sampleRss(router.pid)
      const others = otherCpu()
      const result = await runWs({ url: router.url, key, path: fileName, connections, durationS: seconds, expectText: fileText })
      return { ...result, otherCpu: others.stop(), peakRss: sampler.stop() }
    }
    log(`  warm-up router: ${fmt(await load(Math.max(warmupS, 0.5), "warmup"))}`)
    const results: Array<RoundResult> = []
    for (let round = 1; round <= rounds; round++) {
      await sleep(300)
      const result = await load(durationS, `ws-r${round}`)
      results.push({ ...result, round })
      log(`  round ${round} router: ${fmt(result)}`)
    }
    return summarize(router.name, results)
  })

const runSessionsScenario = (setup: Setup) =>
  withServers(setup, "sessions", ["sdk"], async (router, [sdk]) => {
    const measure = async (server: Server): Promise<SessionsSummary> => {
      const key = await newKey(router, "sessions")
      // the initialize path once, so its code is loaded before the baseline
      const warm = await openSessions(server.url, key, connections)
      await closeSessions(server.url, key, warm.ids)
      await sleep(1_000)
      const rssBefore = rssOf(server.pid) ?? 0
      const sampler = sampleRss(server.pid)
      const started = performance.now()
      const { ids, latencies } = await openSessions(server.url, key, sessionCount, connections)
      const openSeconds = (performance.now() - started) / 1000
      await sleep(2_000)
      const rssAfter = rssOf(server.pid) ?? 0
      const peakRss = sampler.stop()
      if (new Set(ids).size !== sessionCount) throw new Error(`${server.name}: ${new Set(ids).size} distinct sessions, not ${sessionCount}`)
      const { p50, p99 } = latencies.percentiles()
      const summary = { server: server.name, sessions: sessionCount, rssBefore, rssAfter, peakRss, openSeconds, initializeP50: p50, initializeP99: p99 }
      log(`  ${server.name}: RSS ${Math.round(rssBefore / 2 ** 20)} -> ${Math.round(rssAfter / 2 ** 20)} MB (+${Math.round((rssAfter - rssBefore) / 2 ** 20)} MB), peak ${Math.round(peakRss / 2 ** 20)} MB, opened in ${openSeconds.toFixed(1)} s`)
      return summary
    }
    const routerSummary = await measure(router)
    const sdkSummary = await measure(sdk!)
    return { router: routerSummary, reference: sdkSummary }
  })

/**
 * /mcp tools/call read_file on three routers sharing Redis and PostgreSQL, through the round-robin proxy:
 * sessions are opened through it too, so a session is mostly served by a replica other than the one that
 * opened it (taken on from Redis). Peak RSS is the three routers' peaks added up.
 */
const replicasTitle = "/mcp tools/call read_file, 3 replicas (Redis + PostgreSQL) behind a round-robin TCP proxy"
const runReplicasScenario = async (setup: Setup): Promise<ServerSummary | { readonly skipped: string }> => {
  const stores = await sharedStores()
  if ("skipped" in stores) return stores
  const started: Array<Server> = []
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined
  try {
    const env = { MCP_STORAGE_URL: stores.storageUrl, MCP_REDIS_URL: stores.redisUrl }
    const replica = (name: string) => startRouter({ adminKey, configFile: setup.configFile, workingDir: setup.workingDir, dataDir: path.join(setup.root, `data-replica-${name}`) }, env, `replica ${name}`)
    // the first migrates the database and stores the admin key; the two others start together after it
    started.push(await replica("a"))
    started.push(...await Promise.all(["b", "c"].map(replica)))
    for (const server of started) noteStart(server)
    proxy = await startProxy(started.map((server) => Number(new URL(server.url).port)))
    const front = proxy.url
    const scenario = httpScenarios.find((s) => s.id === "mcp-call")!
    const load = async (seconds: number, label: string, expectBody?: string) => {
      const key = await createKey(front, adminKey, `bench-${label}-${++keyCount}`)
      const opened = (await openSessions(front, key, connections)).ids
      try {
        let expected = expectBody
        if (expected === undefined) {
          const answer = await probe(`${front}/mcp`, key, scenario.body, opened[0])
          const parsed = JSON.parse(answer.body) as { result?: Record<string, unknown> }
          if (answer.status !== 200 || !(answer.contentType ?? "").startsWith("application/json") || !scenario.check(parsed.result)) {
            throw new Error(`replicas: unexpected answer ${answer.status} ${answer.contentType}: ${answer.body.slice(0, 500)}`)
          }
          expected = answer.body
        }
        const samplers = started.map((server) => sampleRss(server.pid))
        const others = otherCpu()
        const result = await runHttp({ url: `${front}/mcp`, key, body: scenario.body, connections, durationS: seconds, sessions: opened, expectBody: expected })
        return { result: { ...result, otherCpu: others.stop(), peakRss: samplers.reduce((sum, sampler) => sum + sampler.stop(), 0) }, expected }
      } finally {
        await closeSessions(front, key, opened)
      }
    }
    const warm = await load(Math.max(warmupS, 0.5), "replicas-warmup")
    log(`  warm-up 3 replicas: ${fmt(warm.result)}`)
    const results: Array<RoundResult> = []
    for (let round = 1; round <= rounds; round++) {
      await sleep(300)
      const { result } = await load(durationS, `replicas-r${round}`, warm.expected)
      results.push({ ...result, round })
      // PostgreSQL's and Redis's server processes are not the bench's: their CPU counts as other processes'
      log(`  round ${round} 3 replicas: ${fmt(result)}`)
    }
    return summarize("router ×3", results)
  } finally {
    await proxy?.stop()
    await Promise.all(started.map((server) => server.stop()))
    await stores.stop()
  }
}

// ---------------------------------------------------------------- main

const main = async () => {
  const facts = machine()
  log(`bench: ${selected.join(", ")}; ${rounds} round(s) of ${durationS} s per server, ${connections} connections, warm-up ${warmupS} s, ${sessionCount} sessions; estimate ~${Math.round(estimateS / 60 * 10) / 10} min`)
  log(`machine: ${facts.cores} cores (${facts.cpu}), ${facts.memoryGiB} GiB, ${facts.os}, Node ${facts.node}; commit ${facts.commit}${facts.uncommitted.length > 0 ? ` with ${facts.uncommitted.length} uncommitted change(s)` : ""}`)
  const setup = setUp()
  const begun = Date.now()
  const rows: Array<Row> = []
  const scenarios: Record<string, unknown> = {}
  const noise: Array<number> = []
  const skipped: Array<string> = []
  for (const id of selected) {
    const http = httpScenarios.find((s) => s.id === id)
    if (http !== undefined) {
      log(`${http.title}: router vs ${http.reference === "sdk" ? "SDK" : "node:http"}`)
      const { router, reference } = await runHttpScenario(setup, http)
      rows.push(...throughputRows(http.title, router, reference))
      noise.push(router.otherCpu, reference.otherCpu)
      scenarios[id] = { title: http.title, router, reference }
    } else if (id === "replicas") {
      log(`${replicasTitle}: router ×3`)
      const replicas = await runReplicasScenario(setup)
      if ("skipped" in replicas) {
        log(`  skipped: ${replicas.skipped}`)
        skipped.push(`${replicasTitle}: skipped, ${replicas.skipped}`)
        scenarios[id] = { title: replicasTitle, skipped: replicas.skipped }
      } else {
        rows.push(...throughputRows(replicasTitle, replicas, undefined))
        scenarios[id] = { title: replicasTitle, router: replicas }
      }
    } else if (id === "ws-call") {
      log("/ws execute_tool read_file: router")
      const router: ServerSummary = await runWsScenario(setup)
      rows.push(...throughputRows("/ws execute_tool read_file", router, undefined))
      noise.push(router.otherCpu)
      scenarios[id] = { title: "/ws execute_tool read_file", router }
    } else {
      log(`${sessionCount} idle MCP sessions: router vs SDK`)
      const { router, reference } = await runSessionsScenario(setup)
      rows.push(...sessionRows(router, reference))
      scenarios[id] = { title: `${sessionCount} idle MCP sessions`, router, reference }
    }
  }
  const startSummaries: Array<StartSummary> = [...starts].map(([server, s]) => ({ server, starts: s.starts, idleRss: s.idleRss }))
  const table = renderConsole(header, rows.map(cells), mainRight)
  const startTable = renderConsole(startHeader, startSummaries.map(startCells), startRight)
  const markdown = renderMarkdown(header, rows.map(cells), mainRight)
  const startMarkdown = renderMarkdown(startHeader, startSummaries.map(startCells), startRight)
  const elapsedS = Math.round((Date.now() - begun) / 1000)
  process.stdout.write(`\n${table}\n\n${startTable}\n\n`)
  for (const line of skipped) process.stdout.write(`${line}\n`)
  process.stdout.write(`${facts.cores} cores (${facts.cpu}), Node ${facts.node}; ${rounds} x ${durationS} s per server (medians), ${connections} keep-alive connections; took ${elapsedS} s\n`)
  const noisiest = Math.max(0, ...noise)
  process.stdout.write(noisiest >= 0.1
    ? `warning: other processes on this machine used up to ${noisiest.toFixed(2)} cores during a run; the figures are lower than on a quiet machine\n`
    : `other processes on this machine used less than 0.1 core during every run\n`)
  const resultsDir = path.join(repoRoot, "bench", "results")
  fs.mkdirSync(resultsDir, { recursive: true })
  const stamp = new Date().toISOString().replaceAll(":", "-").replace(/\.\d+Z$/, "Z")
  const file = path.join(resultsDir, `${stamp}.json`)
  fs.writeFileSync(file, `${JSON.stringify({
    date: new Date().toISOString(),
    machine: facts,
    settings: { durationS, rounds, connections, warmupS, sessions: sessionCount, protocolVersion, scenarios: selected, quick },
    elapsedS,
    otherCpuMaxCores: noisiest,
    scenarios,
    starts: startSummaries,
    markdown: `${markdown}\n\n${startMarkdown}`
  }, null, 2)}\n`)
  process.stdout.write(`results: ${path.relative(process.cwd(), file)}\n`)
}

main().then(
  () => {
    killAll()
    removeTemp()
    process.exit(0)
  },
  (error: unknown) => {
    process.stderr.write(`bench failed: ${error instanceof Error ? error.stack ?? error.message : String(error)}\n`)
    killAll()
    removeTemp()
    process.exit(1)
  }
)

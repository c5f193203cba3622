/**
 * The official MCP conformance suite's server scenarios, every one of them, run against the router's /mcp
 * with keys on (the suite's client sends the key as ?api_key=). The fixtures the scenarios call (test_* tools,
 * test:// resources, test_* prompts, completion, subscriptions, sampling, elicitation) come from
 * test/fixtures/conformanceServer.mjs, configured as an unprefixed stdio upstream, so the suite sees them under
 * their own names; dns-rebinding-protection and server-sse-multiple-streams concern the router itself.
 *
 * The same scenarios run against the fixture server alone, over Streamable HTTP: that guards the fixture (and
 * this file's expectations), so a failure in the router's block is the router's.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { RunningServer } from "../support/server.ts"

// the router's helpers are imported in its block's beforeAll, so that the suite's run against the fixture
// alone does not depend on the router's sources loading
type Support = typeof import("../security/support.ts")

const root = fileURLToPath(new URL("../../", import.meta.url))
/** The sources and the fixture need Node 24: under `npx vitest` this process is it, else the project's own node binary. */
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")

const cli = path.join(root, "node_modules/@modelcontextprotocol/conformance/dist/index.js")
const fixture = path.join(root, "test/fixtures/conformanceServer.mjs")

/** Every server scenario of @modelcontextprotocol/conformance 0.1.16 (`conformance list --server`). */
const SCENARIOS = [
  "server-initialize",
  "logging-set-level",
  "ping",
  "completion-complete",
  "tools-list",
  "tools-call-simple-text",
  "tools-call-image",
  "tools-call-audio",
  "tools-call-embedded-resource",
  "tools-call-mixed-content",
  "tools-call-with-logging",
  "tools-call-error",
  "tools-call-with-progress",
  "tools-call-sampling",
  "tools-call-elicitation",
  "json-schema-2020-12",
  "elicitation-sep1034-defaults",
  "server-sse-polling",
  "server-sse-multiple-streams",
  "elicitation-sep1330-enums",
  "resources-list",
  "resources-read-text",
  "resources-read-binary",
  "resources-templates-read",
  "resources-subscribe",
  "resources-unsubscribe",
  "prompts-list",
  "prompts-get-simple",
  "prompts-get-with-args",
  "prompts-get-embedded-resource",
  "prompts-get-with-image",
  "dns-rebinding-protection"
]

/** Every check that passes or fails passed (warnings allowed: server-sse-polling has only those, 0/0). */
const PASSED = /Passed: (\d+)\/\1, 0 failed/
/** Scenario runs at once, over both blocks: each is a node process, on a 2-core machine. */
const PARALLEL = 4
const SCENARIO_MS = 60_000

/**
 * Scenarios whose upstream asks the client something or logs during the call. The router relays those to
 * the call's client only while every call in flight on that upstream is one client's (it never guesses
 * whose they are), so against the router each runs alone: no other scenario has a call in flight then.
 */
const EXCLUSIVE = new Set([
  "tools-call-with-logging",
  "tools-call-sampling",
  "tools-call-elicitation",
  "elicitation-sep1034-defaults",
  "elicitation-sep1330-enums"
])

/** At most PARALLEL shared turns at once; an exclusive turn waits for the others to end and runs alone. */
let running = 0
let exclusive = false
const waiting: Array<{ readonly alone: boolean; readonly go: () => void }> = []
const admit = () => {
  while (waiting.length > 0 && !exclusive) {
    const next = waiting[0]!
    if (next.alone ? running > 0 : running >= PARALLEL) return
    waiting.shift()
    running++
    if (next.alone) exclusive = true
    next.go()
  }
}
const inTurn = async <A>(task: () => Promise<A>, alone = false): Promise<A> => {
  await new Promise<void>((go) => {
    waiting.push({ alone, go })
    admit()
  })
  try {
    return await task()
  } finally {
    running--
    if (alone) exclusive = false
    admit()
  }
}

const runCli = (args: ReadonlyArray<string>) =>
  new Promise<string>((resolve) => {
    execFile(nodeBin, [cli, ...args], { timeout: SCENARIO_MS }, (_error, stdout, stderr) => resolve(`${stdout}${stderr}`))
  })

const runScenario = (url: string, scenario: string, alone = false) => inTurn(() => runCli(["server", "--url", url, "--scenario", scenario]), alone)

/**
 * One test per scenario, against the MCP endpoint `url()` answers once the block's beforeAll is done;
 * `oneUpstream`: the endpoint relays one shared upstream connection (the router), see EXCLUSIVE.
 */
const scenarioTests = (url: () => string, oneUpstream: boolean) => {
  for (const scenario of SCENARIOS) {
    it.concurrent(`passes ${scenario}`, async () => {
      const output = await runScenario(url(), scenario, oneUpstream && EXCLUSIVE.has(scenario))
      expect(output).toMatch(PASSED)
    }, 2 * SCENARIO_MS)
  }
}

it("covers every server scenario of the suite", async () => {
  const listed = [...(await runCli(["list", "--server"])).matchAll(/^ {2}- (\S+)/gmu)].map((m) => m[1])
  expect(listed.length).toBeGreaterThan(0)
  expect([...SCENARIOS].sort()).toEqual([...listed].sort())
})

describe("the router, with the fixture server as an unprefixed stdio upstream", () => {
  let support: Support
  let server: RunningServer | undefined
  beforeAll(async () => {
    support = await import("../security/support.ts")
    const { ADMIN, call, eventually } = support
    server = await support.start({
      security: { allowQueryApiKey: true },
      upstreams: [{ name: "conformance", prefix: "", transport: { type: "stdio", command: nodeBin, args: [fixture] } }]
    })
    const up = await eventually(async () => {
      const reply = await call(`${server!.url}/api/upstreams`, { key: ADMIN })
      return reply.status === 200 && (reply.json?.upstreams ?? []).some((u: any) => u.name === "conformance" && u.state === "up")
    }, 20_000)
    if (!up) throw new Error(`upstream "conformance" is not up: ${(await call(`${server.url}/api/upstreams`, { key: ADMIN })).text}`)
  }, 60_000)
  afterAll(async () => {
    if (server !== undefined) await support.stop(server)
  })

  scenarioTests(() => `${server!.url}/mcp?api_key=${support.ADMIN}`, true)
})

describe("the fixture server alone, over Streamable HTTP", () => {
  let child: ChildProcess | undefined
  let url = ""
  beforeAll(async () => {
    const started = spawn(nodeBin, [fixture, "--http", "0"], { stdio: ["ignore", "pipe", "pipe"] })
    child = started
    let output = ""
    url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the fixture server did not start: ${output}`)), 20_000)
      const read = (chunk: string) => {
        output += chunk
        const listening = /listening on (\S+)/u.exec(output)
        if (listening !== null) {
          clearTimeout(timer)
          resolve(listening[1]!)
        }
      }
      started.stdout!.setEncoding("utf8").on("data", read)
      started.stderr!.setEncoding("utf8").on("data", read)
      started.once("exit", (code) => {
        clearTimeout(timer)
        reject(new Error(`the fixture server exited (${code}): ${output}`))
      })
    })
  }, 30_000)
  afterAll(async () => {
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child!.once("exit", resolve))
    child.kill("SIGTERM")
    const timer = setTimeout(() => child!.kill("SIGKILL"), 5_000)
    await exited
    clearTimeout(timer)
  })

  scenarioTests(() => url, false)
})

/**
 * WebSocket budgets. Floods on a socket that never reads (its TCP socket paused): every byte the server
 * sends counts against the connection's budget of unread bytes (websocket.maxUnreadBytes, and
 * maxUnreadBytesUnauthenticated before `auth`), an unauthenticated connection is closed at its auth
 * deadline whatever it has queued, ids longer than websocket.maxIdLength are refused without being echoed,
 * and tool calls running per connection are bounded (websocket.maxPendingRequests). For the floods the
 * server runs in a child process, so that its resident memory is read from /proc/<pid>/status while a
 * client in this process floods it; the other tests run it in this process.
 */
import { Schema } from "effect"
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import { WebSocketConfig } from "../../src/config/schema.ts"
import { ADMIN, cleanupAfterEach, eventually, metricValue, open, start, testTools, within } from "./support.ts"

cleanupAfterEach()

const root = fileURLToPath(new URL("../../", import.meta.url))
const nodeBin = Number(process.versions.node.split(".")[0]) >= 24 ? process.execPath : path.join(root, "node_modules/.bin/node")
const MiB = 1024 * 1024
/** The bound on the server's memory growth during a flood (the safety bound, not a target). */
const maxGrowth = 50 * MiB

const children: Array<ChildProcessWithoutNullStreams> = []
const sockets: Array<WebSocket> = []
afterEach(() => {
  for (const ws of sockets.splice(0)) ws.terminate()
})
afterAll(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
})

interface ChildServer {
  readonly url: string
  /** The server process's resident memory now, in bytes. */
  readonly rss: () => number
  /** mcp_router_websocket_closes_total for `code`, from /metrics/prometheus. */
  readonly closes: (code: number) => Promise<number | undefined>
}

/** The router in a child process, keys required (the tests' admin key), with these `websocket` settings. */
const serve = (websocket: Record<string, unknown>) =>
  new Promise<ChildServer>((resolve, reject) => {
    const config = { websocket, security: { requireApiKey: true, adminKey: ADMIN } }
    // V8 sizes its young generation (scratch space for short-lived objects) from the machine's memory: on a
    // 24 GB machine it grows by up to ~70 MB under any busy load, flood or not (measured: 12 to 78 MB for
    // the same small-ping flood; 4 MB with 8 MB semi-spaces). 16 MB semi-spaces, V8's classic 64-bit
    // default, keep that out of the measurement, which is about what the server holds for the flood.
    const child = spawn(nodeBin, ["--max-semi-space-size=16", "test/ws/childServer.ts", JSON.stringify(config)], { cwd: root })
    children.push(child)
    let output = ""
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${output}`)), 20_000)
    child.stderr.on("data", (chunk) => void (output += String(chunk)))
    child.once("exit", (code) => reject(new Error(`the server exited with ${code}: ${output}`)))
    child.stdout.on("data", (chunk) => {
      output += String(chunk)
      const found = /listening (http:\/\/127\.0\.0\.1:\d+)/.exec(output)
      if (found === null) return
      clearTimeout(timer)
      const url = found[1]!
      resolve({
        url: `${url.replace(/^http/, "ws")}/ws`,
        rss: () => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${child.pid}/status`, "utf8"))![1]) * 1024,
        closes: async (code) => {
          const response = await fetch(`${url}/metrics/prometheus`, { headers: { authorization: `Bearer ${ADMIN}` }, signal: AbortSignal.timeout(5_000) })
          return metricValue(await response.text(), "mcp_router_websocket_closes_total", `code="${code}"`)
        }
      })
    })
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A flood test with its own child server: it starts in a beforeAll hook (seconds on a busy machine, not
 * counted in the test's time bound) and is stopped after the test.
 */
const floodTest = (name: string, settings: Record<string, unknown>, test: (server: ChildServer) => Promise<void>) =>
  describe(name, () => {
    let server: ChildServer | undefined
    beforeAll(async () => void (server = await serve(settings)), 60_000)
    afterAll(() => {
      for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL")
    })
    it("the bounds hold", () => test(server!), 20_000)
  })

interface Flooder {
  readonly ws: WebSocket
  /** When the welcome arrived (ms since the epoch): the auth deadline runs from about then. */
  readonly welcomedAt: number
  /** When the socket closed, once it has. */
  closedAt: number | undefined
  /** The messages received before the client stopped reading. */
  readonly received: Array<any>
}

/** Opens a socket, waits for the welcome (and auth_ok with `key`), then stops reading: its TCP socket is paused. */
const connectPaused = async (url: string, key?: string) => {
  const ws = new WebSocket(url)
  sockets.push(ws)
  const received: Array<any> = []
  const waiters = new Set<() => void>()
  ws.on("message", (data) => {
    received.push(JSON.parse(data.toString()))
    for (const wake of waiters) wake()
  })
  ws.on("error", () => {})
  let closedAt: number | undefined
  ws.once("close", () => void (closedAt = Date.now()))
  const arrival = (type: string) =>
    within(new Promise<void>((resolve) => {
      const look = () => {
        if (!received.some((m) => m.type === type)) return
        waiters.delete(look)
        resolve()
      }
      waiters.add(look)
      look()
    }), `a ${type} message`)
  await arrival("welcome")
  const welcomedAt = Date.now()
  if (key !== undefined) {
    ws.send(JSON.stringify({ type: "auth", apiKey: key }))
    await arrival("auth_ok")
  }
  // ws.pause() pauses the TCP socket: nothing more is read, so the server's writes back up
  ws.pause()
  const flooder: Flooder = {
    ws,
    welcomedAt,
    get closedAt() {
      return closedAt
    },
    received
  }
  return flooder
}

/**
 * Sends `message` in a loop until `count` are sent, `ms` pass or the socket closes, keeping at most 4 MiB
 * unsent on this side; samples the server's RSS every 25 ms throughout and answers its largest growth.
 */
const flood = async (flooder: Flooder, server: ChildServer, message: string, limits: { readonly count?: number; readonly ms: number }) => {
  const baseline = server.rss()
  let peak = baseline
  const sampler = setInterval(() => void (peak = Math.max(peak, server.rss())), 25)
  const deadline = Date.now() + limits.ms
  let sent = 0
  try {
    while (flooder.closedAt === undefined && sent < (limits.count ?? Infinity) && Date.now() < deadline) {
      if (flooder.ws.bufferedAmount > 4 * MiB) await sleep(5)
      else {
        flooder.ws.send(message)
        if (++sent % 50 === 0) await new Promise(setImmediate)
      }
    }
    // the server may still be working through what it was sent
    await sleep(500)
  } finally {
    clearInterval(sampler)
  }
  peak = Math.max(peak, server.rss())
  return { sent, growth: peak - baseline, baseline }
}

const ping = (idLength: number) => JSON.stringify({ type: "ping", id: "x".repeat(idLength) })
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`

/** Waits (bounded) for the flooder's socket to close; answers when it did, or undefined. */
const closedWithin = async (flooder: Flooder, ms: number) => {
  const deadline = Date.now() + ms
  while (flooder.closedAt === undefined && Date.now() < deadline) await sleep(10)
  return flooder.closedAt
}

describe("floods on a socket that never reads (server in a child process, RSS from /proc)", () => {
  const authTimeout = 1_000

  floodTest("without a key, 60,000-character ids: refused without echo, closed (4429) by the auth deadline + 1 s, RSS growth < 50 MB", { authTimeout: 1_000 }, async (server) => {
    const flooder = await connectPaused(server.url)
    const { sent, growth, baseline } = await flood(flooder, server, ping(60_000), { ms: 4_000 })
    console.info(`unauthenticated, 60,000-character ids: ${sent} sent, RSS ${mib(baseline)} + ${mib(growth)}`)
    const closedAt = await closedWithin(flooder, 0)
    expect(closedAt, "the socket is closed").toBeDefined()
    expect(closedAt! - flooder.welcomedAt).toBeLessThanOrEqual(authTimeout + 1_000)
    // each ping was an invalid message (its id too long): the invalid-message limit closed the socket
    expect(await server.closes(4429)).toBe(1)
    expect(growth).toBeLessThan(maxGrowth)
  })

  floodTest("without a key, 60,000-character ids allowed (maxIdLength 60000): the 64 KiB unauthenticated budget closes it (4503) by the deadline + 1 s", { authTimeout: 1_000, maxIdLength: 60_000 }, async (server) => {
    const flooder = await connectPaused(server.url)
    const { sent, growth, baseline } = await flood(flooder, server, ping(60_000), { ms: 4_000 })
    console.info(`unauthenticated, 60,000-character ids echoed: ${sent} sent, RSS ${mib(baseline)} + ${mib(growth)}`)
    const closedAt = await closedWithin(flooder, 0)
    expect(closedAt, "the socket is closed").toBeDefined()
    expect(closedAt! - flooder.welcomedAt).toBeLessThanOrEqual(authTimeout + 1_000)
    expect(await server.closes(4503)).toBe(1)
    expect(growth).toBeLessThan(maxGrowth)
  })

  floodTest("without a key, small pings as fast as possible: closed at the auth deadline (4401) whatever is queued, by the deadline + 1 s", { authTimeout: 1_000 }, async (server) => {
    const flooder = await connectPaused(server.url)
    const { sent, growth, baseline } = await flood(flooder, server, ping(100), { ms: 4_000 })
    console.info(`unauthenticated, 100-character ids: ${sent} sent, RSS ${mib(baseline)} + ${mib(growth)}`)
    const closedAt = await closedWithin(flooder, 0)
    expect(closedAt, "the socket is closed").toBeDefined()
    expect(closedAt! - flooder.welcomedAt).toBeLessThanOrEqual(authTimeout + 1_000)
    // whichever came first: the deadline, or the budget once the TCP buffers were full
    expect((await server.closes(4401) ?? 0) + (await server.closes(4503) ?? 0)).toBe(1)
    expect(growth).toBeLessThan(maxGrowth)
  })

  floodTest("with a key, 20,000 pings of 60,000 characters echoed (maxIdLength 60000): closed (4503) once the 1 MiB budget is exceeded", { maxIdLength: 60_000 }, async (server) => {
    const flooder = await connectPaused(server.url, ADMIN)
    const { sent, growth, baseline } = await flood(flooder, server, ping(60_000), { count: 20_000, ms: 10_000 })
    console.info(`authenticated, 60,000-character ids echoed: ${sent} sent, RSS ${mib(baseline)} + ${mib(growth)}`)
    expect(await closedWithin(flooder, 2_000), "the socket is closed").toBeDefined()
    // long before the 20,000 (1.2 GB of pongs): 1 MiB unread, besides what the TCP buffers hold
    expect(sent).toBeLessThan(20_000)
    expect(await server.closes(4503)).toBe(1)
    expect(growth).toBeLessThan(maxGrowth)
  })

  floodTest("with a key, 20,000 pings of 60,000 characters under the default maxIdLength: refused without echo, closed (4429)", {}, async (server) => {
    const flooder = await connectPaused(server.url, ADMIN)
    const { sent, growth, baseline } = await flood(flooder, server, ping(60_000), { count: 20_000, ms: 10_000 })
    console.info(`authenticated, 60,000-character ids: ${sent} sent, RSS ${mib(baseline)} + ${mib(growth)}`)
    expect(await closedWithin(flooder, 2_000), "the socket is closed").toBeDefined()
    expect(await server.closes(4429)).toBe(1)
    expect(growth).toBeLessThan(maxGrowth)
  })
})

describe("echoed fields are bounded", () => {
  it("an id longer than maxIdLength is refused as invalid_message and not echoed, whatever the message; 128 characters pass", async () => {
    const { record, tools } = testTools()
    const server = await start({}, { tools })
    const client = await open(server)
    const long = "L".repeat(129)
    client.send({ type: "ping", id: "k".repeat(128) })
    expect(await client.next("pong")).toEqual({ type: "pong", id: "k".repeat(128) })
    for (const message of [
      { type: "ping", id: long },
      { type: "execute_tool", id: long, toolName: "slow", arguments: {} },
      { type: "manage_api_key", id: long, action: "list" },
      // malformed as well: the id of a message that fails to decode is not echoed either
      { type: "subscribe", room: "nowhere", id: long },
      { type: "nope", id: long }
    ]) {
      client.send(message)
      const error = await client.next("error")
      expect(error, JSON.stringify(message).slice(0, 80)).toEqual({ type: "error", code: "invalid_message", message: expect.any(String) })
    }
    // a number id too large to be finite (1e999) is refused as well, not echoed as null
    client.send('{"type":"ping","id":1e999}')
    expect(await client.next("error")).toEqual({ type: "error", code: "invalid_message", message: expect.any(String) })
    expect(client.raw.some((text) => text.includes(long))).toBe(false)
    expect(record.slowStarted).toBe(0)
  })

  it("maxIdLength is a setting", async () => {
    const server = await start({ websocket: { maxIdLength: 8 } })
    const client = await open(server)
    client.send({ type: "ping", id: "12345678" })
    expect(await client.next("pong")).toEqual({ type: "pong", id: "12345678" })
    client.send({ type: "ping", id: "123456789" })
    expect((await client.next("error")).message).toContain("at most 8 characters")
  })

  it("what a message names is not echoed at length: long types, field names, tool names and key ids", async () => {
    const server = await start({ websocket: { maxInvalidMessagesPerMinute: 100 } })
    const client = await open(server)
    const huge = "H".repeat(50_000)
    client.send({ type: huge })
    client.send({ type: "ping", [huge]: 1 })
    client.send({ type: "execute_tool", id: 1, toolName: huge })
    client.send({ type: "manage_api_key", id: 2, action: "revoke", keyId: huge })
    for (let i = 0; i < 4; i++) await client.next("error")
    client.send({ type: "ping", id: "sync" })
    await client.next("pong")
    for (const text of client.raw) expect(text.length, text.slice(0, 120)).toBeLessThan(2_048)
  })
})

describe("normal clients that read", () => {
  it("5,000 pipelined pings and 200 of 60,000 characters (in windows of 16): every pong, in order, nothing closed", async () => {
    const server = await start({ websocket: { maxIdLength: 61_000, heartbeatInterval: 30_000 } })
    const client = await open(server)
    let closed: number | undefined
    void client.closed.then(({ code }) => void (closed = code))
    const pongs = () => client.received.filter((m) => m.type === "pong")
    for (let id = 0; id < 5_000; id++) client.send({ type: "ping", id })
    expect(await eventually(() => pongs().length === 5_000 || closed !== undefined, 10_000), `${pongs().length} pongs`).toBe(true)
    expect(closed).toBeUndefined()
    expect(pongs().map((m) => m.id)).toEqual(Array.from({ length: 5_000 }, (_, id) => id))
    const big = "b".repeat(60_000)
    for (let window = 0; window < 200; window += 16) {
      for (let i = window; i < window + 16 && i < 200; i++) client.send({ type: "ping", id: `${i}:${big}` })
      const all = Math.min(window + 16, 200) + 5_000
      expect(await eventually(() => pongs().length === all || closed !== undefined, 10_000), `${pongs().length} pongs, closed ${closed}`).toBe(true)
      expect(closed).toBeUndefined()
    }
    expect(pongs().slice(5_000).map((m) => m.id)).toEqual(Array.from({ length: 200 }, (_, i) => `${i}:${big}`))
  }, 20_000)

  it("tool calls: many in a row, and bursts up to maxPendingRequests, all answered", async () => {
    const { tools } = testTools()
    const server = await start({ security: { maxRequestsPerMinute: 1_000_000, maxRequestsPerHour: 1_000_000 }, websocket: { maxPendingRequests: 20 } }, { tools })
    const client = await open(server)
    for (let burst = 0; burst < 25; burst++) {
      for (let i = 0; i < 20; i++) client.send({ type: "execute_tool", id: `${burst}.${i}`, toolName: "echo", arguments: { text: "t".repeat(1_000) } })
      // the next burst once all of this one are answered: never more than 20 running
      const answered = await eventually(() => client.received.filter((m) => m.type === "tool_executed").length === (burst + 1) * 20)
      expect(answered, `burst ${burst}`).toBe(true)
    }
    expect(client.received.filter((m) => m.type === "tool_executed" && m.error !== undefined)).toEqual([])
    expect(client.ws.readyState).toBe(WebSocket.OPEN)
  }, 20_000)
})

describe("requests in flight", () => {
  it("one tool call more than maxPendingRequests running on a connection closes it with 4429; its calls are interrupted", async () => {
    const { record, tools } = testTools()
    const server = await start({ websocket: { maxPendingRequests: 3 } }, { tools })
    const client = await open(server)
    for (let id = 0; id < 3; id++) client.send({ type: "execute_tool", id, toolName: "slow", arguments: {} })
    expect(await eventually(() => record.slowStarted === 3)).toBe(true)
    // three running: the connection still serves
    client.send({ type: "ping", id: "still" })
    expect(await client.next("pong")).toEqual({ type: "pong", id: "still" })
    client.send({ type: "execute_tool", id: 3, toolName: "slow", arguments: {} })
    expect((await within(client.closed, "the 4429 close")).code).toBe(4429)
    expect(record.slowStarted).toBe(3)
    expect(await eventually(() => record.slowInterrupted === 3)).toBe(true)
  })
})

describe("README.md", () => {
  it("the WebSocket API's budget table documents every setting with the Schema's default", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
    const section = readme.slice(readme.indexOf("\n## WebSocket API\n"), readme.indexOf("\n## ", readme.indexOf("\n## WebSocket API\n") + 1))
    const rows = section.split("\n").filter((line) => line.startsWith("| `websocket."))
    const documented = Object.fromEntries(rows.map((line) => {
      const [key, value] = line.split("|").slice(1, 3).map((cell) => cell.trim())
      return [key!.replace(/`/g, "").slice("websocket.".length), Number(/^\d+/.exec(value!)![0])]
    }))
    const defaults = Schema.decodeUnknownSync(WebSocketConfig)({}) as unknown as Record<string, number>
    for (const key of ["maxUnreadBytes", "maxUnreadBytesUnauthenticated", "queueSize", "slowClientTimeout", "maxIdLength", "maxPendingRequests"]) {
      expect(documented[key], `websocket.${key}`).toBe(defaults[key])
    }
  })
})

describe("more of the class", () => {
  floodTest("20 connections without a key flood at once (half 60,000-character ids, half 128): all closed by the auth deadline + 1 s, RSS growth < 50 MB", { authTimeout: 1_000 }, async (server) => {
    const authTimeout = 1_000
    const flooders = await Promise.all(Array.from({ length: 20 }, () => connectPaused(server.url)))
    const baseline = server.rss()
    let peak = baseline
    const sampler = setInterval(() => void (peak = Math.max(peak, server.rss())), 25)
    const results = await Promise.all(flooders.map(async (flooder, i) => {
      const message = ping(i % 2 === 0 ? 60_000 : 128)
      let sent = 0
      const deadline = Date.now() + 3_000
      while (flooder.closedAt === undefined && Date.now() < deadline) {
        if (flooder.ws.bufferedAmount > MiB) await sleep(5)
        else {
          flooder.ws.send(message)
          if (++sent % 10 === 0) await new Promise(setImmediate)
        }
      }
      return sent
    }))
    await sleep(500)
    clearInterval(sampler)
    const growth = Math.max(peak, server.rss()) - baseline
    console.info(`20 unauthenticated connections: ${results.reduce((a, b) => a + b, 0)} sent, RSS ${mib(baseline)} + ${mib(growth)}`)
    for (const flooder of flooders) {
      const closedAt = await closedWithin(flooder, 0)
      expect(closedAt, "the socket is closed").toBeDefined()
      expect(closedAt! - flooder.welcomedAt).toBeLessThanOrEqual(authTimeout + 1_000)
    }
    expect(growth).toBeLessThan(maxGrowth)
  })

  it("a deeply nested message is answered (invalid_json, invalid_message or invalid_arguments), and the connection keeps working", async () => {
    const { tools } = testTools()
    const server = await start({ websocket: { maxMessageBytes: 1024 * 1024 } }, { tools })
    const client = await open(server)
    const depth = 100_000
    // nested in the arguments: the router refuses them (tools.maxArgumentDepth), if JSON.parse does not first
    client.send(`{"type":"execute_tool","id":"deep","toolName":"echo","arguments":{"text":${"[".repeat(depth)}${"]".repeat(depth)}}}`)
    const answer = () => client.received.find((m) => m.type === "error" || (m.type === "tool_executed" && m.id === "deep"))
    // parsing 200,000 brackets takes a while on a busy machine
    expect(await eventually(() => answer() !== undefined, 15_000)).toBe(true)
    const refused = answer()
    expect(refused.type === "error" ? refused.code : refused.error.code).toMatch(/^(invalid_json|invalid_arguments)$/)
    if (refused.type === "error") await client.next("error")
    // nested in a field no message has
    client.send(`{"type":"ping","id":"deep2","x":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`)
    expect((await client.next("error", () => true, 15_000)).code).toMatch(/^(invalid_json|invalid_message)$/)
    client.send({ type: "ping", id: "after" })
    expect(await client.next("pong")).toEqual({ type: "pong", id: "after" })
  })
})

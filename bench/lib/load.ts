/**
 * The load: autocannon runs over keep-alive connections (one MCP session per connection where the
 * scenario needs one), a WebSocket `execute_tool` loop, and the helpers that open and end MCP sessions
 * and make keys on the router.
 */
import autocannon from "autocannon"
import WebSocket from "ws"

export const protocolVersion = "2025-11-25"

export interface RunResult {
  /** Correct answers: 2xx with the expected body. */
  readonly ok: number
  readonly reqPerSec: number
  readonly p50: number
  readonly p99: number
  readonly durationS: number
  readonly non2xx: number
  readonly errors: number
  readonly timeouts: number
  readonly mismatches: number
  readonly statusCodes: Record<string, number>
}

/** Growable list of latencies in ms (Float64Array, sorted once at the end). */
export class Latencies {
  private values = new Float64Array(1 << 16)
  private size = 0
  add(ms: number) {
    if (this.size === this.values.length) {
      const next = new Float64Array(this.values.length * 2)
      next.set(this.values)
      this.values = next
    }
    this.values[this.size++] = ms
  }
  percentiles(): { readonly p50: number; readonly p99: number } {
    if (this.size === 0) return { p50: Number.NaN, p99: Number.NaN }
    const sorted = this.values.slice(0, this.size).sort()
    const at = (q: number) => sorted[Math.min(this.size - 1, Math.ceil(q * this.size) - 1)]!
    return { p50: at(0.5), p99: at(0.99) }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** Runs `task(i)` for i in [0, n) with at most `concurrency` at once. */
const pool = async <A>(n: number, concurrency: number, task: (i: number) => Promise<A>): Promise<Array<A>> => {
  const results = new Array<A>(n)
  let next = 0
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, async () => {
    while (next < n) {
      const i = next++
      results[i] = await task(i)
    }
  }))
  return results
}

const mcpHeaders = (key: string) => ({
  authorization: `Bearer ${key}`,
  "content-type": "application/json",
  accept: "application/json, text/event-stream"
})

/** A new admin key (`*`) made on the router with POST /config; each measured run gets its own. */
export const createKey = async (routerUrl: string, adminKey: string, name: string): Promise<string> => {
  const response = await fetch(`${routerUrl}/config`, {
    method: "POST",
    headers: mcpHeaders(adminKey),
    body: JSON.stringify({ "security.createApiKey": { name, permissions: ["*"] } })
  })
  const body = (await response.json()) as { key?: string }
  if (response.status !== 201 || typeof body.key !== "string") throw new Error(`creating a key failed: ${response.status} ${JSON.stringify(body)}`)
  return body.key
}

/**
 * Opens `n` MCP sessions (initialize, then notifications/initialized), `concurrency` at a time; resolves
 * with their ids and the latency of each initialize.
 */
export const openSessions = async (url: string, key: string, n: number, concurrency = 50) => {
  const latencies = new Latencies()
  const ids = await pool(n, concurrency, async (i) => {
    const started = performance.now()
    const response = await fetch(`${url}/mcp`, {
      method: "POST",
      headers: mcpHeaders(key),
      body: JSON.stringify({
        jsonrpc: "2.0",
        id: 1,
        method: "initialize",
        params: { protocolVersion, capabilities: {}, clientInfo: { name: `bench-${i}`, version: "1.0.0" } }
      })
    })
    const text = await response.text()
    latencies.add(performance.now() - started)
    const id = response.headers.get("mcp-session-id")
    if (response.status !== 200 || id === null) throw new Error(`initialize failed at ${url}: ${response.status} ${text.slice(0, 500)}`)
    const initialized = await fetch(`${url}/mcp`, {
      method: "POST",
      headers: { ...mcpHeaders(key), "mcp-session-id": id, "mcp-protocol-version": protocolVersion },
      body: JSON.stringify({ jsonrpc: "2.0", method: "notifications/initialized" })
    })
    await initialized.arrayBuffer()
    if (initialized.status !== 202) throw new Error(`notifications/initialized failed at ${url}: ${initialized.status}`)
    return id
  })
  return { ids, latencies }
}

/** Ends sessions with DELETE /mcp. */
export const closeSessions = async (url: string, key: string, ids: ReadonlyArray<string>, concurrency = 50) => {
  await pool(ids.length, concurrency, async (i) => {
    const response = await fetch(`${url}/mcp`, {
      method: "DELETE",
      headers: { ...mcpHeaders(key), "mcp-session-id": ids[i]!, "mcp-protocol-version": protocolVersion }
    })
    await response.arrayBuffer()
  })
}

/** One request as a client would send it, to learn the exact answer every response must then match. */
export const probe = async (url: string, key: string, body: string, sessionId?: string) => {
  const response = await fetch(url, {
    method: "POST",
    headers: { ...mcpHeaders(key), ...(sessionId === undefined ? {} : { "mcp-session-id": sessionId, "mcp-protocol-version": protocolVersion }) },
    body
  })
  return { status: response.status, contentType: response.headers.get("content-type"), body: await response.text() }
}

export interface HttpLoad {
  readonly url: string
  readonly key: string
  readonly body: string
  readonly connections: number
  readonly durationS: number
  /** One session id per connection (connection i uses sessions[i]); none for stateless endpoints. */
  readonly sessions?: ReadonlyArray<string> | undefined
  /** Every answer must be exactly this body (else it counts as a mismatch). */
  readonly expectBody: string
}

/** One autocannon run: `connections` keep-alive connections, one request in flight on each. */
export const runHttp = async (load: HttpLoad): Promise<RunResult> => {
  const latencies = new Latencies()
  const headers = mcpHeaders(load.key)
  let connection = 0
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({
      url: load.url,
      method: "POST",
      headers,
      body: load.body,
      connections: load.connections,
      pipelining: 1,
      duration: load.durationS,
      timeout: 10,
      expectBody: load.expectBody,
      ...(load.sessions === undefined ? {} : {
        setupClient: (client: autocannon.Client) => {
          const session = load.sessions![connection++ % load.sessions!.length]!
          client.setHeaders({ ...headers, "mcp-session-id": session, "mcp-protocol-version": protocolVersion })
        }
      })
    }, (error: unknown, done: autocannon.Result) => (error ? reject(error) : resolve(done)))
    instance.on("response", (_client, _status, _bytes, responseTime) => latencies.add(responseTime))
  })
  const statusCodes: Record<string, number> = {}
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = stat.count ?? 0
  const ok = result["2xx"] - result.mismatches
  return {
    ok,
    reqPerSec: ok / result.duration,
    ...latencies.percentiles(),
    durationS: result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    statusCodes
  }
}

export interface WsLoad {
  readonly url: string
  readonly key: string
  readonly path: string
  readonly connections: number
  readonly durationS: number
  readonly expectText: string
}

const openSocket = (url: string, key: string) =>
  new Promise<WebSocket>((resolve, reject) => {
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${key}` } })
    const timer = setTimeout(() => {
      socket.terminate()
      reject(new Error("WebSocket: no welcome within 10 s"))
    }, 10_000)
    socket.once("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on("message", function welcome(data) {
      const message = JSON.parse(String(data)) as { type?: string; authenticated?: boolean }
      if (message.type !== "welcome") return
      socket.off("message", welcome)
      clearTimeout(timer)
      if (message.authenticated !== true) reject(new Error(`WebSocket: not authenticated at connect: ${String(data)}`))
      else resolve(socket)
    })
  })

/**
 * `connections` WebSocket clients, each sending `execute_tool` read_file and the next one when its
 * answer arrives, for `durationS`. Sockets are opened and authenticated before the clock starts.
 */
export const runWs = async (load: WsLoad): Promise<RunResult> => {
  const sockets = await Promise.all(Array.from({ length: load.connections }, () => openSocket(`${load.url.replace(/^http/, "ws")}/ws`, load.key)))
  const latencies = new Latencies()
  let ok = 0
  let failed = 0
  let errors = 0
  const started = performance.now()
  const endAt = started + load.durationS * 1000
  try {
    await Promise.all(sockets.map((socket) =>
      new Promise<void>((resolve) => {
        let id = 0
        let sentAt = 0
        const send = () => {
          sentAt = performance.now()
          socket.send(JSON.stringify({ type: "execute_tool", id: ++id, toolName: "read_file", arguments: { path: load.path } }))
        }
        socket.on("message", (data) => {
          const message = JSON.parse(String(data)) as { type?: string; id?: number; error?: unknown; result?: { isError?: boolean; content?: Array<{ text?: string }> } }
          if (message.type === "ping") return socket.send(JSON.stringify({ type: "pong" }))
          if (message.type !== "tool_executed" && message.type !== "error") return
          if (message.id !== id) return
          const now = performance.now()
          latencies.add(now - sentAt)
          if (message.type === "tool_executed" && message.error === undefined && message.result?.isError === false && message.result.content?.[0]?.text === load.expectText) ok++
          else failed++
          if (now < endAt) send()
          else resolve()
        })
        socket.on("close", () => {
          errors++
          resolve()
        })
        socket.on("error", () => {})
        send()
      })
    ))
  } finally {
    for (const socket of sockets) socket.removeAllListeners("close")
    await Promise.all(sockets.map((socket) =>
      new Promise<void>((resolve) => {
        if (socket.readyState === WebSocket.CLOSED) return resolve()
        socket.once("close", () => resolve())
        socket.close()
        setTimeout(() => {
          socket.terminate()
          resolve()
        }, 2_000).unref()
      })
    ))
  }
  const durationS = (performance.now() - started) / 1000
  return {
    ok,
    reqPerSec: ok / durationS,
    ...latencies.percentiles(),
    durationS,
    non2xx: failed,
    errors,
    timeouts: 0,
    mismatches: 0,
    statusCodes: {}
  }
}

export { sleep }

/**
 * Helpers of the WebSocket tests: servers and sockets that are always closed after a test, a small typed
 * client over `ws` (the next message of a type within a bounded wait, the close code as a promise), keys
 * made over POST /config, and a custom slow tool that records its interruption.
 */
import { Effect, Schema } from "effect"
import { afterEach } from "vitest"
import WebSocket from "ws"
import { defineTool, textOutput, ToolRegistry } from "../../src/index.ts"
import type { ExtraTools } from "../../src/main.ts"
import { type RunningServer, startServer } from "../support/server.ts"
import { eventually, sleep } from "../support/polling.ts"

export type { RunningServer }

/** The admin key of the tests (>= 24 characters), configured as security.adminKey. */
export const ADMIN = "ws-test-admin-key-0123456789abcdef"
/** Small intervals so the timers under test fire quickly. */
export const quick = { heartbeatInterval: 300, authTimeout: 500, slowClientTimeout: 1000 }
const WAIT_MS = 5_000

const servers: Array<RunningServer> = []
const sockets: Array<WebSocket> = []

/** Closes every socket and server a test opened. Call once at the top of a test file. */
export const cleanupAfterEach = () =>
  afterEach(async () => {
    for (const ws of sockets.splice(0)) ws.terminate()
    await Promise.all(servers.splice(0).map((server) => server.close()))
  })

/** A server closed after the test; `secure` turns keys on with the admin key. */
export const start = async (config: Record<string, any> = {}, options: { secure?: boolean; tools?: ExtraTools } = {}) => {
  const input = {
    ...config,
    websocket: { ...quick, ...config.websocket },
    ...(options.secure === true ? { security: { requireApiKey: true, adminKey: ADMIN, ...config.security } } : {})
  }
  const server = await startServer(input, options.tools)
  servers.push(server)
  return server
}

/** Closes `server` after the test, like those `start` makes. */
export const closeAfterTest = (server: RunningServer) => {
  servers.push(server)
  return server
}

/**
 * Closes a server within a bound, for a test that leaves it unable to shut down (a bug it shows): the
 * server is left behind rather than hanging the cleanup. Answers whether it closed.
 */
export const closeWithin = async (server: RunningServer, ms = 3_000) => {
  servers.splice(servers.indexOf(server), 1)
  return Promise.race([server.close().then(() => true), sleep(ms).then(() => false)])
}

/** Rejects when `promise` has not settled within `ms`. */
export const within = <A>(promise: Promise<A>, what: string, ms = WAIT_MS): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

export { eventually, sleep }

export interface Closed {
  readonly code: number
  readonly reason: string
}

export interface Client {
  readonly ws: WebSocket
  /** Every message received so far, in order. */
  readonly received: ReadonlyArray<any>
  /** Every raw text frame received so far. */
  readonly raw: ReadonlyArray<string>
  readonly send: (message: unknown) => void
  /** The first message of `type` (matching `where`) not taken yet, received before or within the wait. */
  readonly next: (type: string, where?: (message: any) => boolean, ms?: number) => Promise<any>
  /** Resolves with the close code and reason once the socket is closed. */
  readonly closed: Promise<Closed>
  readonly close: () => Promise<Closed>
}

export const wsUrl = (server: RunningServer, query = "") => `${server.url.replace(/^http/, "ws")}/ws${query}`

export interface ConnectOptions {
  readonly headers?: Record<string, string>
  readonly query?: string
  /** Answers the server's heartbeat pings with pongs (default true); false makes a silent client. */
  readonly autoPong?: boolean
}

/** Opens a socket; rejects when the upgrade is refused (the error names the HTTP status). */
export const connect = (server: RunningServer, options: ConnectOptions = {}): Promise<Client> => {
  const ws = new WebSocket(wsUrl(server, options.query), { headers: options.headers ?? {}, handshakeTimeout: WAIT_MS })
  sockets.push(ws)
  const received: Array<any> = []
  const raw: Array<string> = []
  const taken = new Set<number>()
  const waiters = new Set<() => void>()
  ws.on("message", (data) => {
    const text = data.toString()
    raw.push(text)
    const message = JSON.parse(text)
    received.push(message)
    if (message.type === "ping" && options.autoPong !== false) ws.send(JSON.stringify({ type: "pong" }))
    for (const waiter of waiters) waiter()
  })
  const closed = new Promise<Closed>((resolve) => ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })))
  const next = (type: string, where: (message: any) => boolean = () => true, ms = WAIT_MS) =>
    within(
      new Promise<any>((resolve) => {
        const look = () => {
          const index = received.findIndex((m, i) => !taken.has(i) && m.type === type && where(m))
          if (index < 0) return
          taken.add(index)
          waiters.delete(look)
          resolve(received[index])
        }
        waiters.add(look)
        look()
      }),
      `a "${type}" message (received: ${JSON.stringify(received.map((m) => m.type))})`,
      ms
    )
  const client: Client = {
    ws,
    received,
    raw,
    send: (message) => ws.send(typeof message === "string" ? message : JSON.stringify(message)),
    next,
    closed,
    close: () => {
      ws.close()
      return within(closed, "the socket to close")
    }
  }
  return within(
    new Promise<Client>((resolve, reject) => {
      ws.once("open", () => resolve(client))
      ws.once("error", reject)
    }),
    "the upgrade"
  )
}

/** Connects and waits for the welcome; with `key`, authenticates by message and waits for auth_ok. */
export const open = async (server: RunningServer, key?: string, options: ConnectOptions = {}) => {
  const client = await connect(server, options)
  await client.next("welcome")
  if (key !== undefined) {
    client.send({ type: "auth", apiKey: key })
    await client.next("auth_ok")
  }
  return client
}

/**
 * Makes a client stop reading (its TCP socket is paused, so the server's writes back up) while it keeps
 * sending pongs, so the heartbeat does not close it. Returns a function that resumes reading.
 */
export const stall = (client: Client) => {
  client.ws.pause()
  const timer = setInterval(() => {
    if (client.ws.readyState === WebSocket.OPEN) client.send({ type: "pong" })
  }, 50)
  void client.closed.then(() => clearInterval(timer))
  return () => {
    clearInterval(timer)
    client.ws.resume()
  }
}

/** Subscribes an open client to a room and waits for the confirmation. */
export const subscribe = async (client: Client, room: string) => {
  client.send({ type: "subscribe", room })
  return client.next("subscribed", (m) => m.room === room)
}

/** Opens `count` clients at once. */
export const openMany = (server: RunningServer, count: number, key?: string) => Promise.all(Array.from({ length: count }, () => open(server, key)))

/** security.createApiKey over POST /config with the admin key; answers `{ key, id, ... }`. */
export const createKey = async (
  server: RunningServer,
  name: string,
  permissions: ReadonlyArray<string>,
  extra: { readonly expiresAt?: string } = {}
) => {
  const response = await fetch(`${server.url}/config`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ "security.createApiKey": { name, permissions, ...extra } }),
    signal: AbortSignal.timeout(WAIT_MS)
  })
  if (response.status !== 201) throw new Error(`createApiKey answered ${response.status}: ${await response.text()}`)
  return (await response.json()) as { key: string; id: string; [field: string]: unknown }
}

/** security.revokeApiKey over POST /config with the admin key. */
export const revokeKey = async (server: RunningServer, id: string) => {
  const response = await fetch(`${server.url}/config`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN}` },
    body: JSON.stringify({ "security.revokeApiKey": { id } }),
    signal: AbortSignal.timeout(WAIT_MS)
  })
  if (response.status !== 200) throw new Error(`revokeApiKey answered ${response.status}: ${await response.text()}`)
}

/** The value of a Prometheus sample whose line starts with `name` and contains every `labels` part; undefined when absent. */
export const metricValue = (text: string, name: string, labels = "") => {
  const line = text.split("\n").find((l) => l.startsWith(name) && labels.split(",").every((label) => l.includes(label)))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1))
}

export const getText = async (server: RunningServer, route: string, key?: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${server.url}${route}`, {
    headers: { ...(key === undefined ? {} : { authorization: `Bearer ${key}` }), ...headers },
    signal: AbortSignal.timeout(WAIT_MS)
  })
  return { status: response.status, text: await response.text() }
}

/** Tools of the tests: `slow` sleeps 30 s and records its interruption; `shout` logs its text; `echo` answers it. */
export const testTools = () => {
  const record = { slowStarted: 0, slowInterrupted: 0 }
  const tools: ExtraTools = ToolRegistry.provide(Effect.succeed([
    defineTool({
      name: "slow",
      description: "Sleeps 30 s",
      input: Schema.Struct({}),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: () =>
        Effect.sync(() => void record.slowStarted++).pipe(
          Effect.andThen(Effect.sleep("30 seconds")),
          Effect.as(textOutput("done")),
          Effect.onInterrupt(() => Effect.sync(() => void record.slowInterrupted++))
        )
    }),
    defineTool({
      name: "shout",
      description: "Logs its text at info level",
      input: Schema.Struct({ text: Schema.String }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: ({ text }) => Effect.logInfo(text).pipe(Effect.as(textOutput("logged")))
    }),
    defineTool({
      name: "echo",
      description: "Answers its text",
      input: Schema.Struct({ text: Schema.String }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: ({ text }) => Effect.succeed(textOutput(text))
    })
  ]))
  return { record, tools }
}

/**
 * Helpers of the scale-out test: three router processes sharing one Redis server and one PostgreSQL
 * database, behind a round-robin TCP proxy on loopback that has no stickiness at all (each new
 * connection goes to the next replica, whatever it carries), and a fetch for the official SDK client
 * that opens a new connection for every request (`Connection: close`), so consecutive requests of one
 * MCP session land on different replicas. The proxy reads (never changes) the head of each request it
 * forwards, so a test knows which replica got which request; the routers' own request counters confirm it.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { call } from "../support/http.ts"
import { makeTempDir } from "../support/server.ts"
import { nodeBin, root } from "../security/support.ts"
import { inCi, redisServerBinary, type RouterProcess, startOwnRedis, startRouter, testDatabase, testRedisUrl } from "../shared/support.ts"
import { ADMIN_KEY, createDatabase, postgresUrl, runCli } from "../storage/support.ts"

export { ADMIN_KEY, call, inCi, runCli, type RouterProcess }

/** Whether the servers the test needs are here: Redis (a redis-server binary or MCP_TEST_REDIS_URL) and PostgreSQL. */
export const serversAvailable = (redisServerBinary !== undefined || testRedisUrl !== undefined) && postgresUrl !== undefined
export const skipReason = `the scale-out test needs redis-server (or MCP_TEST_REDIS_URL) and MCP_TEST_POSTGRES_URL: ` +
  `export MCP_TEST_REDIS_URL="$(bash .ci/redis.sh)" MCP_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)"`

const fixture = path.join(root, "test/fixtures/conformanceServer.mjs")
/** The conformance fixture as a stdio upstream of every replica (`prefix: ""`: its tools keep their names). */
export const upstream = (name: string, prefix: string) => ({ name, prefix, transport: { type: "stdio", command: nodeBin, args: [fixture] } })

// ---------------------------------------------------------------- the round-robin TCP proxy

export interface Forwarded {
  /** The order in which the proxy accepted the connection. */
  readonly n: number
  /** The replica's name (a, b, c). */
  readonly replica: string
  /** The first line of the request ("POST /mcp HTTP/1.1"), or "" when it sent nothing. */
  readonly requestLine: string
  /** Its `x-scale-tag` header: the client and request number the test's fetch gave it. */
  readonly tag: string | undefined
  /** The JSON-RPC method of a POST's body, when it came in the first chunk. */
  readonly method: string | undefined
  /** When the proxy forwarded it (Date.now()). */
  readonly at: number
  /** When its connection closed, either side; undefined while it is open. */
  closedAt: number | undefined
}

export interface Proxy {
  readonly url: string
  /** Every connection forwarded, in order. */
  readonly forwarded: ReadonlyArray<Forwarded>
  /** Connections that no replica accepted (all refused). */
  readonly refused: () => number
  readonly close: () => Promise<void>
}

/**
 * A TCP proxy on 127.0.0.1 in front of `replicas`: each accepted connection goes to the next replica in
 * turn, with no affinity of any kind (in front of one replica, it is a direct connection the test can watch). A replica that refuses the connection (it is down) is skipped for
 * the next one, as a load balancer's passive health check would; once connected, the bytes flow both ways
 * untouched (HTTP, SSE, WebSocket upgrades).
 */
export const startRoundRobinProxy = async (replicas: ReadonlyArray<{ readonly name: string; readonly url: string }>): Promise<Proxy> => {
  const forwarded: Array<Forwarded> = []
  const sockets = new Set<net.Socket>()
  let next = 0
  let accepted = 0
  let refused = 0
  const server = net.createServer((client) => {
    const n = accepted++
    sockets.add(client)
    client.pause()
    const pending: Array<Buffer> = []
    let clientEnded = false
    const collect = (chunk: Buffer) => void pending.push(chunk)
    client.on("data", collect)
    client.once("end", () => (clientEnded = true))
    client.on("error", () => client.destroy())
    client.once("close", () => sockets.delete(client))
    client.resume()
    const tryReplica = (attempt: number) => {
      if (attempt >= replicas.length) {
        refused++
        client.destroy()
        return
      }
      const replica = replicas[next++ % replicas.length]!
      const { hostname, port } = new URL(replica.url)
      const upstream = net.connect(Number(port), hostname)
      upstream.once("error", (error: NodeJS.ErrnoException) => {
        if (!upstream.connecting && error.code !== "ECONNREFUSED") return client.destroy()
        // refused: that replica is down, the next one takes the connection
        upstream.destroy()
        if (!client.destroyed) tryReplica(attempt + 1)
      })
      upstream.once("connect", () => {
        sockets.add(upstream)
        upstream.on("error", () => client.destroy())
        upstream.once("close", () => {
          sockets.delete(upstream)
          client.destroy()
        })
        client.once("close", () => upstream.destroy())
        const head = Buffer.concat(pending).toString("latin1")
        const record = (text: string) => {
          const requestLine = text.split("\r\n", 1)[0] ?? ""
          const tag = /\r\nx-scale-tag: *([^\r\n]*)/iu.exec(text)?.[1]
          const method = /"method" *: *"([^"]+)"/u.exec(text)?.[1]
          const entry: Forwarded = { n, replica: replica.name, requestLine, tag, method, at: Date.now(), closedAt: undefined }
          forwarded.push(entry)
          client.once("close", () => (entry.closedAt = Date.now()))
        }
        client.off("data", collect)
        if (head.length > 0) record(head)
        else client.once("data", (chunk: Buffer) => record(chunk.toString("latin1")))
        for (const chunk of pending) upstream.write(chunk)
        if (clientEnded) upstream.end()
        client.pipe(upstream)
        upstream.pipe(client)
      })
    }
    // wait for the request's head (a WebSocket or HTTP client speaks first), then pick the replica
    setImmediate(() => tryReplica(0))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const { port } = server.address() as net.AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    refused: () => refused,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}

// ---------------------------------------------------------------- the SDK client through the proxy

let clients = 0

export interface ScaleClient {
  readonly client: Client
  readonly transport: StreamableHTTPClientTransport
  /** This client's tag prefix in the proxy's record. */
  readonly name: string
  /** The requests of this client the proxy forwarded, in order. */
  readonly requests: () => ReadonlyArray<Forwarded>
}

/**
 * An official SDK client (Client + StreamableHTTPClientTransport) at `${url}/mcp` with `key`. Its fetch
 * closes every connection after one request, so each request is a new connection for the proxy (the next
 * replica), and tags each request so the proxy's record says which replica served it. `address` is the
 * client's address as the routers see it (X-Forwarded-For).
 */
export const sdkClient = (
  url: string,
  key: string,
  proxy: Proxy | undefined,
  address: string,
  capabilities: Record<string, unknown> = {}
): ScaleClient => {
  const name = `client${++clients}`
  let request = 0
  const oneConnectionEach: typeof fetch = (input, init) => {
    const headers = new Headers(init?.headers)
    headers.set("connection", "close")
    headers.set("x-scale-tag", `${name}/${++request}`)
    return fetch(input, { ...init, headers })
  }
  const client = new Client({ name: `scale-${name}`, version: "1.0.0" }, { capabilities })
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    fetch: oneConnectionEach,
    // a client address of its own (the routers trust X-Forwarded-For from loopback): failed
    // authentications of another test's revoked key do not block this client
    requestInit: { headers: { authorization: `Bearer ${key}`, "x-forwarded-for": address } },
    // the test's own GET streams are opened again quickly when a replica dies
    reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1_000, reconnectionDelayGrowFactor: 1.5, maxRetries: 20 }
  })
  const requests = () => (proxy?.forwarded ?? []).filter((f) => f.tag?.startsWith(`${name}/`))
  return { client, transport, name, requests }
}

// ---------------------------------------------------------------- what each replica says

/** The sum of a counter's samples in a replica's Prometheus exposition whose labels contain every `labels` pair. */
export const counter = async (router: { readonly url: string }, metric: string, labels: Record<string, string> = {}) => {
  const reply = await call(`${router.url}/metrics/prometheus`, { key: ADMIN_KEY })
  if (reply.status !== 200) throw new Error(`GET ${router.url}/metrics/prometheus answered ${reply.status}: ${reply.text.slice(0, 300)}`)
  let sum = 0
  for (const line of reply.text.split("\n")) {
    if (!line.startsWith(`${metric}{`) && !line.startsWith(`${metric} `)) continue
    if (!Object.entries(labels).every(([label, value]) => line.includes(`${label}="${value}"`))) continue
    sum += Number(line.slice(line.lastIndexOf(" ") + 1))
  }
  return sum
}

/** POST /mcp requests a replica answered, whatever their status (its own count, from /metrics/prometheus). */
export const mcpPosts = (router: { readonly url: string }) => counter(router, "mcp_router_http_requests_total", { route: "/mcp", method: "POST" })

/** A replica's `/api/stats`. */
export const stats = async (router: { readonly url: string }) => (await call(`${router.url}/api/stats`, { key: ADMIN_KEY })).json

// ---------------------------------------------------------------- three replicas

export interface Replicas {
  readonly routers: Array<RouterProcess>
  readonly storageUrl: string
  readonly redisUrl: string
  readonly workingDir: string
  readonly drop: () => Promise<void>
}

/**
 * A PostgreSQL database of this file's own, a Redis server of its own (redis-server, or a database of the
 * test server when the binary is missing), and three router processes on them with keys on and one admin
 * key. They are started with the same configuration (one image, one config file): only their data folder,
 * which storage.url leaves unused, differs.
 */
export const startReplicas = async (config: Record<string, any>, names: ReadonlyArray<string> = ["a", "b", "c"]): Promise<Replicas> => {
  const database = await createDatabase("router_scale")
  const redisUrl = redisServerBinary !== undefined ? (await startOwnRedis()).url : await testDatabase(13)
  const workingDir = makeTempDir("mcp-scale-work-")
  const full = {
    ...config,
    storage: { url: database.url },
    redis: { url: redisUrl },
    tools: { workingDir, ...config.tools },
    security: { requireApiKey: true, trustedProxies: ["127.0.0.1"], maxRequestsPerMinute: 100_000, maxRequestsPerHour: 1_000_000, ...config.security }
  }
  // the first migrates and stores the admin key; the others start together after it
  const first = await startRouter(names[0]!, full, { MCP_ADMIN_KEY: ADMIN_KEY })
  const others = await Promise.all(names.slice(1).map((name) => startRouter(name, full, { MCP_ADMIN_KEY: ADMIN_KEY })))
  return { routers: [first, ...others], storageUrl: database.url, redisUrl, workingDir, drop: async () => {
    await database.drop()
    fs.rmSync(workingDir, { recursive: true, force: true })
  } }
}

/** Kills a router at once (SIGKILL): its connections drop without a goodbye. */
export const kill = async (router: RouterProcess) => {
  if (router.child.exitCode !== null || router.child.signalCode !== null) return
  const exited = new Promise((resolve) => router.child.once("exit", resolve))
  router.child.kill("SIGKILL")
  await exited
}

/** Polls `check` every 20 ms; the ms it took, or undefined when it did not hold within `ms`. */
export const within = async (check: () => boolean | Promise<boolean>, ms: number, since = Date.now()): Promise<number | undefined> => {
  const deadline = since + ms
  for (;;) {
    if (await check()) return Date.now() - since
    if (Date.now() > deadline) return undefined
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A stand-in Docker daemon: a real HTTP server on a unix socket in a temporary folder that answers with
 * recorded Engine API replies and records what it was asked, so tests can check the exact query.
 */
import * as fs from "node:fs"
import * as http from "node:http"
import type { Socket } from "node:net"
import * as os from "node:os"
import * as path from "node:path"

export interface ReceivedRequest {
  readonly method: string
  readonly path: string
  readonly query: URLSearchParams
}

/** What to answer: a status with a JSON value or a raw body, or nothing at all (the request hangs). */
export type Reply = { readonly status: number; readonly json: unknown } | { readonly status: number; readonly body: string } | "never"

export interface ReplayDaemon {
  readonly socketPath: string
  readonly requests: Array<ReceivedRequest>
  /** Resolves once a request has arrived (bounded: rejects after `withinMs`). */
  readonly requestArrived: (withinMs: number) => Promise<void>
  /** Resolves once no client connection is open (bounded: rejects after `withinMs`). */
  readonly noOpenConnections: (withinMs: number) => Promise<void>
  readonly close: () => Promise<void>
}

const readFixture = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(import.meta.dirname, "fixtures", name), "utf8"))

/** GET /containers/json?all=1 of a real Docker 27 daemon running a small compose project. */
export const allContainers = readFixture("containers-all.json") as ReadonlyArray<Record<string, any>>
export const runningContainers = allContainers.filter((c) => c.State === "running")
export const error500 = readFixture("error-500.json") as { readonly message: string }

export const startReplayDaemon = async (reply: (request: ReceivedRequest) => Reply): Promise<ReplayDaemon> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-docker-"))
  const socketPath = path.join(dir, "docker.sock")
  const requests: Array<ReceivedRequest> = []
  const openConnections = new Set<Socket>()
  // woken on every request and every closed connection, to re-check what they wait for
  const waiters: Array<() => void> = []
  const wakeWaiters = () => waiters.splice(0).forEach((wake) => wake())
  const waitUntil = (done: () => boolean, withinMs: number, failure: () => string) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(failure())), withinMs)
      const check = () => {
        if (done()) {
          clearTimeout(timer)
          resolve()
        } else {
          waiters.push(check)
        }
      }
      check()
    })
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://docker")
    const received = { method: req.method ?? "", path: url.pathname, query: url.searchParams }
    requests.push(received)
    wakeWaiters()
    const answer = reply(received)
    if (answer === "never") return
    const body = "json" in answer ? JSON.stringify(answer.json) : answer.body
    res.writeHead(answer.status, { "content-type": "json" in answer ? "application/json" : "text/plain" })
    res.end(body)
  })
  server.on("connection", (socket: Socket) => {
    openConnections.add(socket)
    socket.on("close", () => {
      openConnections.delete(socket)
      wakeWaiters()
    })
  })
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(socketPath, resolve))
  return {
    socketPath,
    requests,
    requestArrived: (withinMs) => waitUntil(() => requests.length > 0, withinMs, () => `no request within ${withinMs} ms`),
    noOpenConnections: (withinMs) =>
      waitUntil(() => openConnections.size === 0, withinMs, () => `${openConnections.size} connection(s) still open after ${withinMs} ms`),
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Answers GET /containers/json with `containers`, and 404 like the Engine API for anything else. */
export const containerList = (containers: unknown) => (request: ReceivedRequest): Reply =>
  request.method === "GET" && request.path === "/containers/json"
    ? { status: 200, json: containers }
    : { status: 404, json: { message: "page not found" } }

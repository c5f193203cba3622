/**
 * Shared pieces of the web tool tests: real node:http servers on 127.0.0.1 (port 0), a count of the
 * client sockets this process opens (to prove a refusal happened before any connection), bounded waits,
 * and the Router with the web tools on a given configuration.
 */
import { Effect, Layer } from "effect"
import * as diagnostics from "node:diagnostics_channel"
import * as http from "node:http"
import type { Socket } from "node:net"
import { AppConfig } from "../../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../../src/main.ts"

export interface ReceivedRequest {
  readonly method: string
  readonly url: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
}

export interface LocalServer {
  readonly port: number
  /** `http://127.0.0.1:<port>` */
  readonly origin: string
  readonly requests: Array<ReceivedRequest>
  /** Resolves when every connection the server accepted so far has been closed. */
  readonly allSocketsClosed: () => Promise<void>
  readonly close: () => Promise<void>
}

/** Every wait in these tests gives up after this long, so a hang fails instead of stalling. */
export const waitLimitMs = 10_000

/** `promise`, or a rejection naming `what` after `ms`. */
export const within = <A>(promise: Promise<A>, what: string, ms = waitLimitMs): Promise<A> => {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/** Starts a server on 127.0.0.1 with a free port; the handler sees the request after its body was read. */
export const startLocalServer = async (
  handler: (request: ReceivedRequest, response: http.ServerResponse) => void
): Promise<LocalServer> => {
  const requests: Array<ReceivedRequest> = []
  const sockets = new Set<Socket>()
  const closed: Array<Promise<void>> = []
  const server = http.createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on("data", (chunk: Buffer) => chunks.push(chunk))
    request.on("end", () => {
      const received = {
        method: request.method ?? "",
        url: request.url ?? "",
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8")
      }
      requests.push(received)
      handler(received, response)
    })
  })
  server.on("connection", (socket) => {
    sockets.add(socket)
    closed.push(new Promise((resolve) => socket.on("close", () => resolve())))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as { port: number }).port
  return {
    port,
    origin: `http://127.0.0.1:${port}`,
    requests,
    allSocketsClosed: () => within(Promise.all(closed).then(() => undefined), "the server's sockets to close"),
    close: () => {
      for (const socket of sockets) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    }
  }
}

let clientSocketsOpened = 0
diagnostics.subscribe("net.client.socket", () => {
  clientSocketsOpened += 1
})

/** Runs `action` and tells how many client sockets this process opened meanwhile. */
export const countingClientSockets = async <A>(action: () => Promise<A>) => {
  const before = clientSocketsOpened
  const result = await action()
  return { result, socketsOpened: clientSocketsOpened - before }
}

/** The Router with the built-in tools (web ones included), on a configuration given in file form. */
export const webLayer = (input: Record<string, any> = {}) =>
  RouterCoreLayer.pipe(
    Layer.provideMerge(AppConfig.layerFromInput({ ...input, logging: { enableConsole: false, ...input.logging } }))
  )

/** Runs an effect on `webLayer(input)` as a promise. */
export const runOn = <A, E>(
  input: Record<string, any>,
  effect: Effect.Effect<A, E, Layer.Success<ReturnType<typeof webLayer>>>
) => Effect.runPromise(effect.pipe(Effect.provide(webLayer(input))))

/** tools.network allowing the local test servers. */
export const allowLoopback = { tools: { network: { allowedHosts: ["127.0.0.1"] } } }

/**
 * One MCP client as the engine knows it: a session at /mcp, the stdio client, or a single sessionless
 * request. It keeps what the client declared, the requests it has running (so notifications/cancelled
 * can stop them) and the requests the router sent it that await an answer.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Fiber from "effect/Fiber"
import type { Caller } from "../router/Caller.ts"
import { JsonRpcCode } from "../router/wire.ts"
import { type ClientChannel, ClientRequestFailed } from "./CallContext.ts"
import type { Params, RequestId } from "./jsonRpc.ts"

/** MCP log levels, least severe first. */
export const logLevels = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"] as const
export type LogLevel = (typeof logLevels)[number]

/** Requests the router may have sent one client and not yet had answered. */
const maxPendingClientRequests = 32
/** Requests of one client running at once that it can still cancel. */
const maxRunningTracked = 1024

export interface AnswerError {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

export interface PeerOutput {
  /**
   * Sends a message to the client: on the stream that answers request `related` while it is open, else on
   * the client's own stream. False when the client has nowhere to receive it now.
   */
  readonly send: (message: object, related: RequestId | undefined) => boolean
}

export class Peer {
  protocolVersion: string
  capabilities: Params = {}
  clientInfo: Params | undefined
  /** Index in `logLevels` of the least severe level the client wants; none until logging/setLevel. */
  logLevel: number | undefined
  readonly subscriptions = new Set<string>()
  private readonly running = new Map<RequestId, Fiber.Fiber<unknown, unknown>>()
  private readonly pending = new Map<string, Deferred.Deferred<unknown, ClientRequestFailed>>()
  private nextRequest = 0
  closed = false
  /** initialize succeeded (a session whose initialize failed is not kept). */
  initialized = false
  /** Whether the client can answer the router's requests: not a sessionless request, whose answer would come in another. */
  canAnswer = true
  /** Tool errors as JSON-RPC errors whatever the revision (the plain JSON-RPC endpoint). */
  plainErrors = false
  /** Where an answer or a cancellation goes that is for no request of this replica (a session shared by replicas). */
  elsewhere: { readonly answer: (id: RequestId, result: unknown, error: AnswerError | undefined) => void; readonly cancel: (id: RequestId) => void } | undefined

  readonly sessionKey: string
  readonly caller: Caller
  private readonly output: PeerOutput

  constructor(sessionKey: string, caller: Caller, protocolVersion: string, output: PeerOutput) {
    this.sessionKey = sessionKey
    this.caller = caller
    this.protocolVersion = protocolVersion
    this.output = output
  }

  send(message: object, related?: RequestId): boolean {
    return !this.closed && this.output.send(message, related)
  }

  notify(method: string, params: Params, related?: RequestId): boolean {
    return this.send({ jsonrpc: "2.0", method, params }, related)
  }

  /** Whether a log message of this level goes to the client. */
  wantsLog(level: unknown): boolean {
    if (this.logLevel === undefined) return false
    const index = logLevels.indexOf(level as LogLevel)
    return index === -1 || index >= this.logLevel
  }

  track(id: RequestId, fiber: Fiber.Fiber<unknown, unknown>): boolean {
    if (this.running.size >= maxRunningTracked || this.running.has(id)) return false
    this.running.set(id, fiber)
    return true
  }

  untrack(id: RequestId, fiber: Fiber.Fiber<unknown, unknown>) {
    if (this.running.get(id) === fiber) this.running.delete(id)
  }

  /** The running request a notifications/cancelled names, if any. */
  runningRequest(id: RequestId) {
    return this.running.get(id)
  }

  /** A request to the client, answered through `answer`; interrupted, it tells the client it was cancelled. */
  request(method: string, params: Params, related: RequestId | undefined): Effect.Effect<unknown, ClientRequestFailed> {
    return Effect.suspend(() => {
      if (!this.canAnswer) {
        return Effect.fail(new ClientRequestFailed({
          code: JsonRpcCode.MethodNotFound,
          message: `${method} cannot reach this client: a request without a session has nowhere to receive the client's answer`
        }))
      }
      if (this.pending.size >= maxPendingClientRequests) {
        return Effect.fail(new ClientRequestFailed({ code: JsonRpcCode.InternalError, message: `the client already has ${maxPendingClientRequests} requests of the router to answer` }))
      }
      const id = `router-${++this.nextRequest}`
      const answer = Deferred.makeUnsafe<unknown, ClientRequestFailed>()
      this.pending.set(id, answer)
      if (!this.send({ jsonrpc: "2.0", id, method, params }, related)) {
        this.pending.delete(id)
        return Effect.fail(new ClientRequestFailed({ code: JsonRpcCode.InternalError, message: `the client has no open stream to receive ${method}` }))
      }
      return Deferred.await(answer).pipe(
        Effect.onInterrupt(() => Effect.sync(() => this.notify("notifications/cancelled", { requestId: id, reason: "the request that needed it ended" }, related))),
        Effect.ensuring(Effect.sync(() => this.pending.delete(id)))
      )
    })
  }

  /** A response of the client to one of the router's requests; false when no such request awaits. */
  answer(id: RequestId, result: unknown, error: AnswerError | undefined): boolean {
    const waiting = typeof id === "string" ? this.pending.get(id) : undefined
    if (waiting === undefined) return false
    Deferred.doneUnsafe(waiting, error === undefined ? Effect.succeed(result) : Effect.fail(new ClientRequestFailed(error)))
    return true
  }

  /** The way back to this client for a call made in request `related`. */
  channel(related: RequestId | undefined): ClientChannel {
    return {
      capabilities: this.capabilities,
      sessionKey: this.sessionKey,
      notify: (method, params) =>
        Effect.sync(() => {
          if (method === "notifications/message" && !this.wantsLog(params.level)) return
          this.notify(method, params, related)
        }),
      request: (method, params) => this.request(method, params, related)
    }
  }

  /** Ends everything waiting on the client. */
  close() {
    this.closed = true
    for (const answer of this.pending.values()) {
      Deferred.doneUnsafe(answer, Effect.fail(new ClientRequestFailed({ code: JsonRpcCode.InternalError, message: "the client's session ended" })))
    }
    this.pending.clear()
  }
}

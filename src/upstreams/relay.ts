/**
 * What an upstream sends back while calls are in flight on its connection, passed on to the client that
 * made the call. The connection keeps the calls in flight with their CallContext; a request or a log
 * line of the upstream belongs to the calls' client when they all come from one session. When they come
 * from several, nobody's call is guessed: a request is refused and a log line is treated as one sent
 * outside any call. Notifications to clients leave one at a time, in the order the upstream sent them.
 */
import { McpError } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Scope from "effect/Scope"
import { type CallContext, ClientRequestFailed } from "../mcp/CallContext.ts"

type Json = Readonly<Record<string, unknown>>
export type CallContextService = CallContext["Service"]

/** Notifications to clients waiting to leave at most; past it the oldest are dropped (a client that does not read). */
const maxPendingNotifications = 1024
/** Longest a notification may take to reach a client before the next one goes. */
const deliveryTimeout = Duration.seconds(5)
/** Longest a call's result waits for the notifications that came before it to be delivered. */
const flushTimeout = Duration.seconds(2)

export const JsonRpcError = {
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  RequestCancelled: -32800
} as const

/** An McpError whose message is exactly `message` (the SDK's constructor prefixes "MCP error <code>: "). */
export const mcpError = (code: number, message: string, data?: unknown) => {
  const error = new McpError(code, message, data)
  error.message = message
  return error
}

export type ServerRequestKind = "sampling" | "elicitation" | "roots"

interface InFlight {
  readonly context: Option.Option<CallContextService>
}

export interface Relay {
  /** Calls in flight on the connection now. */
  readonly inFlight: () => number
  /** Registers a call for the life of the current scope. */
  readonly track: (context: Option.Option<CallContextService>) => Effect.Effect<void, never, Scope.Scope>
  /** Sends a notification to a client after the ones already waiting. */
  readonly deliver: (notification: Effect.Effect<void>) => void
  /** Waits (briefly) until what was handed to `deliver` so far has left. */
  readonly flush: Effect.Effect<void>
  /** Answers a request of the upstream by asking the client of the calls in flight; rejects with an McpError. */
  readonly serverRequest: (kind: ServerRequestKind, method: string, params: Json, signal: AbortSignal) => Promise<Json>
  /** A notification the upstream sent for the calls' client: see `toCaller` below. */
  readonly toCaller: (method: string, params: Json) => "delivered" | "none" | "withheld"
}

export const makeRelay = (upstream: string) =>
  Effect.gen(function*() {
    const calls = new Set<InFlight>()
    const outbox = yield* Queue.sliding<Effect.Effect<void>>(maxPendingNotifications)
    yield* Queue.take(outbox).pipe(
      Effect.flatMap((send) => send.pipe(Effect.timeoutOption(deliveryTimeout), Effect.ignoreCause)),
      Effect.forever,
      Effect.forkScoped
    )
    const context = yield* Effect.context<never>()
    const runPromiseExit = Effect.runPromiseExitWith(context)

    /**
     * The one client of the calls in flight; `undefined` when none is in flight, `"several"` when they come
     * from several sessions. Calls without a way back to their client (WebSocket) are each a client of their
     * own: two of them are never taken for one.
     */
    const soleCaller = (): Option.Option<CallContextService> | undefined | "several" => {
      let found: Option.Option<CallContextService> | undefined
      let key: string | undefined
      for (const call of calls) {
        const callKey = Option.isSome(call.context) ? call.context.value.client.sessionKey : undefined
        if (found === undefined) {
          found = call.context
          key = callKey
        } else if (callKey === undefined || callKey !== key) {
          return "several"
        }
      }
      return found
    }

    const deliver = (notification: Effect.Effect<void>) => void Queue.offerUnsafe(outbox, notification)

    const flush = Effect.gen(function*() {
      const done = yield* Deferred.make<void>()
      deliver(Deferred.succeed(done, undefined).pipe(Effect.asVoid))
      yield* Deferred.await(done).pipe(Effect.timeoutOption(flushTimeout))
    })

    const serverRequest = async (kind: ServerRequestKind, method: string, params: Json, signal: AbortSignal): Promise<Json> => {
      const cannot = `upstream "${upstream}" sent ${method}, which the router cannot relay`
      const caller = soleCaller()
      if (caller === undefined) {
        throw mcpError(JsonRpcError.InvalidRequest, `${cannot}: no call of the router's clients is in flight on this upstream, so there is no client to ask`)
      }
      if (caller === "several") {
        throw mcpError(
          JsonRpcError.InvalidRequest,
          `${cannot}: calls of more than one client session are in flight on this upstream, and the router does not guess whose request it is`
        )
      }
      if (Option.isNone(caller)) {
        throw mcpError(JsonRpcError.MethodNotFound, `${cannot}: the client of the call in flight is connected by a transport that cannot answer requests`)
      }
      const client = caller.value.client
      const capability = client.capabilities[kind]
      if (capability === undefined || capability === null || capability === false) {
        throw mcpError(JsonRpcError.MethodNotFound, `${cannot}: the router's client did not declare the ${kind} capability`)
      }
      if (kind === "elicitation" && params.mode === "url" && (typeof capability !== "object" || !("url" in capability))) {
        throw mcpError(JsonRpcError.InvalidParams, `${cannot}: the router's client did not declare URL-mode elicitation (capabilities.elicitation.url)`)
      }
      if (kind === "sampling" && params.tools !== undefined && (typeof capability !== "object" || !("tools" in capability))) {
        throw mcpError(JsonRpcError.InvalidParams, `${cannot}: the router's client did not declare sampling with tools (capabilities.sampling.tools)`)
      }
      const exit = await runPromiseExit(client.request(method, params), { signal })
      if (Exit.isSuccess(exit)) {
        const value = exit.value
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          throw mcpError(JsonRpcError.InternalError, `the router's client answered ${method} with something other than an object`)
        }
        return value as Json
      }
      const failure = exit.cause.reasons.find(Cause.isFailReason)
      if (failure !== undefined && failure.error instanceof ClientRequestFailed) {
        throw mcpError(failure.error.code, failure.error.message, failure.error.data)
      }
      if (Cause.hasInterruptsOnly(exit.cause)) throw mcpError(JsonRpcError.RequestCancelled, `${method} was cancelled before the router's client answered`)
      throw mcpError(JsonRpcError.InternalError, `the router could not relay ${method} to its client`)
    }

    /**
     * A notification of the upstream for the client of the calls in flight: `"delivered"` to it, `"none"`
     * when no call is in flight (it concerns no one client), `"withheld"` when it cannot be told whose it is
     * (calls of several clients) or its client cannot receive it: then no one gets it.
     */
    const toCaller = (method: string, params: Json): "delivered" | "none" | "withheld" => {
      const caller = soleCaller()
      if (caller === undefined) return "none"
      if (caller === "several" || Option.isNone(caller)) return "withheld"
      deliver(caller.value.client.notify(method, params))
      return "delivered"
    }

    return {
      inFlight: () => calls.size,
      track: (callContext) =>
        Effect.acquireRelease(
          Effect.sync(() => {
            const entry: InFlight = { context: callContext }
            calls.add(entry)
            return entry
          }),
          (entry) => Effect.sync(() => calls.delete(entry))
        ).pipe(Effect.asVoid),
      deliver,
      flush,
      serverRequest,
      toCaller
    } satisfies Relay
  })


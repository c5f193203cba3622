/**
 * One MCP connection to an upstream with the official SDK's Client, for the life of the current Scope:
 * closing the scope closes the client and, for stdio, ends the child process (stdin closed, then
 * SIGTERM, then SIGKILL of its process group). The client declares sampling, elicitation (form and URL)
 * and roots, and relays those requests of the upstream to the client of the call in flight (see
 * relay.ts); it hears the upstream's notifications: list changes and resource updates are reported to
 * the owner of the connection, log lines go to the calls' client or out as events. Requests go out as
 * raw JSON-RPC and their results come back as the upstream sent them, never re-decoded.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import {
  type ClientRequest,
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ErrorCode,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  McpError,
  PromptListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ResultSchema,
  ToolListChangedNotificationSchema
} from "@modelcontextprotocol/sdk/types.js"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as ChildProcess from "effect/process/ChildProcess"
import { expandEnv } from "../config/expandEnv.ts"
import type { UpstreamConfig } from "../config/schema.ts"
import { childEnvironment } from "../tools/process/childEnvironment.ts"
import { serverName, version } from "../version.ts"
import { makeRelay, type Relay } from "./relay.ts"
import { stdioTransport } from "./stdioTransport.ts"
import { UpstreamRequestFailed } from "./surface.ts"

type Json = Readonly<Record<string, unknown>>

/** Longest the initialize handshake may take. */
const initializeTimeout = Duration.seconds(15)
const closeTimeout = Duration.seconds(2)

/** What the router's client offers its upstreams: requests it relays to its own clients. */
export const clientCapabilities = {
  sampling: {},
  elicitation: { form: {}, url: {} },
  roots: { listChanged: false }
} as const

/** The upstream could not be connected, or the connection ended. */
export class UpstreamUnavailable extends Data.TaggedError("UpstreamUnavailable")<{ readonly message: string }> {}

/**
 * A request that did not succeed: the upstream's own JSON-RPC error (`answered`, passed on as it is),
 * no answer within the time allowed, the connection closing, or the request not leaving.
 */
export class UpstreamRequestError extends Data.TaggedError("UpstreamRequestError")<{
  readonly kind: "answered" | "timeout" | "closed" | "failed"
  readonly code: number
  readonly message: string
  readonly data?: unknown
}> {
  /** As the engine passes it on: the upstream's error unchanged, else an internal error naming the upstream. */
  toSurface(): UpstreamRequestFailed {
    return new UpstreamRequestFailed({ code: this.code, message: this.message, ...(this.data === undefined ? {} : { data: this.data }) })
  }
}

/** The lists an upstream said changed, or its connection ending. */
export type UpstreamSignal = "tools" | "resources" | "prompts" | "closed"

export interface RequestOptions {
  readonly timeoutMs: number
  /** The setting the timeout comes from, named in the message of a request that timed out. */
  readonly timeoutSetting?: string
  /** Asks the upstream for progress (a progress token of the SDK's) and receives it; each one restarts the timeout. */
  readonly onprogress?: ((progress: Json) => void) | undefined
}

export interface UpstreamConnection {
  readonly name: string
  /** The upstream's capabilities from initialize. */
  readonly capabilities: Json
  readonly relay: Relay
  /** A request to the upstream; its result as the upstream sent it. Interrupting it cancels it upstream. */
  readonly request: (method: string, params: Json | undefined, options: RequestOptions) => Effect.Effect<Json, UpstreamRequestError>
  /** Waits until the upstream signals something, then returns what it signalled since the last call. */
  readonly signals: Effect.Effect<ReadonlySet<UpstreamSignal>>
  /** Why the connection ended, once `closed` was signalled. */
  readonly closedReason: () => string
  /** Signals something on the upstream's behalf (tools to be named again when names it was refused were freed). */
  readonly remind: (what: UpstreamSignal) => void
}

export interface ConnectHooks {
  /** notifications/resources/updated, with the upstream's own URI. */
  readonly resourceUpdated: (uri: string) => void
  /** notifications/message that is no single call's (sent outside calls, or while several sessions' calls are in flight). */
  readonly log: (params: Json) => void
}

const expandAll = (values: Readonly<Record<string, string>>, where: string) =>
  Effect.forEach(Object.entries(values), ([key, value]) => Effect.map(expandEnv(value, `${where} ${key}`), (v) => [key, v] as const)).pipe(
    Effect.map((entries): Record<string, string> => Object.fromEntries(entries))
  )

const prefixOfMessage = (code: number) => `MCP error ${code}: `

/** What a rejected SDK request means. */
const requestError = (upstream: string, method: string, timeoutMs: number, error: unknown, timeoutSetting?: string): UpstreamRequestError => {
  if (error instanceof McpError) {
    const data = error.data as { readonly timeout?: unknown } | undefined
    if (error.code === ErrorCode.RequestTimeout && typeof data?.timeout === "number") {
      return new UpstreamRequestError({
        kind: "timeout",
        code: ErrorCode.InternalError,
        message: `upstream "${upstream}" did not answer ${method} within ${timeoutMs} ms${timeoutSetting === undefined ? "" : ` (${timeoutSetting})`}`
      })
    }
    if (error.code === ErrorCode.ConnectionClosed && /Connection closed/.test(error.message)) {
      return new UpstreamRequestError({ kind: "closed", code: ErrorCode.InternalError, message: `upstream "${upstream}" closed the connection before answering ${method}` })
    }
    const message = error.message.startsWith(prefixOfMessage(error.code)) ? error.message.slice(prefixOfMessage(error.code).length) : error.message
    return new UpstreamRequestError({ kind: "answered", code: error.code, message, ...(error.data === undefined ? {} : { data: error.data }) })
  }
  const message = error instanceof Error ? error.message : String(error)
  return new UpstreamRequestError({ kind: "failed", code: ErrorCode.InternalError, message: `upstream "${upstream}" could not be asked ${method}: ${message}` })
}

/**
 * The transport with its messages handed to the SDK one at a time, each after the SDK has run the
 * handlers of the one before: the SDK runs notification handlers a microtask later but responses at
 * once, so a progress notification sent just before its result would otherwise find its request gone.
 */
const inOrder = (inner: Transport): Transport => {
  let delivered = Promise.resolve()
  const later = (deliver: () => void) => {
    delivered = delivered.then(async () => {
      try {
        deliver()
      } catch (error) {
        outer.onerror?.(error as Error)
      }
      await Promise.resolve()
      await Promise.resolve()
    })
  }
  const outer: Transport = {
    start: () => inner.start(),
    send: (message, options) => inner.send(message, options),
    close: () => inner.close(),
    get sessionId() {
      return inner.sessionId
    },
    setProtocolVersion: (protocolVersion) => inner.setProtocolVersion?.(protocolVersion)
  }
  inner.onmessage = (message, extra) => later(() => outer.onmessage?.(message, extra))
  inner.onclose = () => later(() => outer.onclose?.())
  inner.onerror = (error) => outer.onerror?.(error)
  return outer
}

/** A connected client for the life of the current scope. */
export const connect = (upstream: UpstreamConfig, workingDir: string, hooks: ConnectHooks) =>
  Effect.gen(function*() {
    const relay = yield* makeRelay(upstream.name)
    const pending = new Set<UpstreamSignal>()
    const wake = yield* Queue.sliding<void>(1)
    const signal = (what: UpstreamSignal) => {
      pending.add(what)
      Queue.offerUnsafe(wake, undefined)
    }

    let transport: Transport
    let closedReason = () => "the connection to the upstream closed"
    if (upstream.transport.type === "stdio") {
      const env = yield* expandAll(upstream.transport.env, `upstream ${upstream.name} env`)
      const command = ChildProcess.make(upstream.transport.command, [...upstream.transport.args], {
        cwd: upstream.transport.cwd ?? workingDir,
        // the same scrubbed environment as execute_command, plus what the upstream's config names
        env: { ...childEnvironment(workingDir), ...env },
        extendEnv: false
      })
      const stdio = yield* stdioTransport(command).pipe(
        Effect.mapError((error) => new UpstreamUnavailable({ message: `cannot start ${upstream.transport.type === "stdio" ? upstream.transport.command : ""}: ${error.message}` }))
      )
      transport = stdio
      closedReason = () => {
        const tail = stdio.stderrTail().trim().split("\n").slice(-3).join(" | ")
        return `the upstream process ended${tail === "" ? "" : ` (its stderr: ${tail})`}`
      }
    } else {
      const headers = yield* expandAll(upstream.transport.headers, `upstream ${upstream.name} header`)
      const url = upstream.transport.url
      const http = yield* Effect.try({
        try: () => new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }),
        catch: (error) => new UpstreamUnavailable({ message: `cannot connect to ${url}: ${(error as Error).message}` })
      })
      transport = http
      // the upstream's session ends with ours (DELETE), as far as it answers in time
      yield* Effect.addFinalizer(() =>
        Effect.promise(() => http.terminateSession().catch(() => undefined)).pipe(Effect.timeoutOption(closeTimeout), Effect.ignore)
      )
    }

    const client = new Client({ name: serverName, version }, {
      capabilities: clientCapabilities,
      // results are passed on, not checked against output schemas: the router's clients do that
      jsonSchemaValidator: { getValidator: () => (input: unknown) => ({ valid: true, data: input as never, errorMessage: undefined }) }
    })
    client.setRequestHandler(CreateMessageRequestSchema, (request, extra) =>
      relay.serverRequest("sampling", request.method, request.params as Json, extra.signal) as never)
    client.setRequestHandler(ElicitRequestSchema, (request, extra) =>
      relay.serverRequest("elicitation", request.method, request.params as Json, extra.signal) as never)
    client.setRequestHandler(ListRootsRequestSchema, (request, extra) =>
      relay.serverRequest("roots", request.method, (request.params ?? {}) as Json, extra.signal) as never)
    client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
      // a log line outside any call is the upstream's own; during calls of several clients it is no one's
      if (relay.toCaller(notification.method, notification.params) === "none") hooks.log(notification.params)
    })
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, (notification) => {
      relay.toCaller(notification.method, notification.params)
    })
    client.setNotificationHandler(ToolListChangedNotificationSchema, () => signal("tools"))
    client.setNotificationHandler(ResourceListChangedNotificationSchema, () => signal("resources"))
    client.setNotificationHandler(PromptListChangedNotificationSchema, () => signal("prompts"))
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => hooks.resourceUpdated(notification.params.uri))
    client.onclose = () => signal("closed")

    yield* Effect.acquireRelease(
      Effect.tryPromise({
        try: (abort) => client.connect(inOrder(transport), { timeout: Duration.toMillis(initializeTimeout), signal: abort }),
        catch: (error) =>
          new UpstreamUnavailable({
            message: pending.has("closed")
              ? `${closedReason()} before it answered initialize`
              : `initialize failed: ${requestError(upstream.name, "initialize", Duration.toMillis(initializeTimeout), error).message}`
          })
      }),
      () => Effect.promise(() => client.close().catch(() => undefined)).pipe(Effect.timeoutOption(closeTimeout), Effect.ignore)
    )

    const request = (method: string, params: Json | undefined, options: RequestOptions) =>
      Effect.tryPromise({
        try: (abort) =>
          client.request({ method, ...(params === undefined ? {} : { params }) } as ClientRequest, ResultSchema, {
            signal: abort,
            timeout: options.timeoutMs,
            ...(options.onprogress === undefined ? {} : { onprogress: options.onprogress, resetTimeoutOnProgress: true })
          }),
        catch: (error) => requestError(upstream.name, method, options.timeoutMs, error, options.timeoutSetting)
      }) as Effect.Effect<Json, UpstreamRequestError>

    const connection: UpstreamConnection = {
      name: upstream.name,
      capabilities: (client.getServerCapabilities() ?? {}) as Json,
      relay,
      request,
      signals: Effect.suspend(() => (pending.size > 0 ? Effect.void : Queue.take(wake))).pipe(
        Effect.map(() => {
          const taken = new Set(pending)
          pending.clear()
          return taken
        })
      ),
      closedReason,
      remind: signal
    }
    return connection
  })

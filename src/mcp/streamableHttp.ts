/**
 * MCP Streamable HTTP at /mcp (revisions 2024-11-05 to 2026-07-28): POST carries client messages and is
 * answered with JSON, or with an SSE stream once the router has notifications or requests for the
 * client before the results; GET opens the session's own stream (or resumes one with Last-Event-ID);
 * DELETE ends the session. initialize opens a session; a request without a session is served on its
 * own (the 2026-07-28 sessionless revision, and stateless clients of earlier ones).
 */
import { randomUUID } from "node:crypto"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { AppConfig } from "../config/AppConfig.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import { JsonRpcCode } from "../router/wire.ts"
import type { Caller } from "../router/Caller.ts"
import { failure, type JsonRpcResponse, parseBody, type RequestId } from "./jsonRpc.ts"
import { McpEngine, reachingUpstreams } from "./McpEngine.ts"
import { BatchTooLarge, type McpEdgeError, SessionLimit, SessionNotFound, TransportRefused, UnsupportedProtocolVersion } from "./McpSessionErrors.ts"
import { McpSessions, type Session } from "./McpSessions.ts"
import { Peer } from "./Peer.ts"
import { sessionlessVersion, supportedVersions } from "./protocols.ts"
import { SessionStreams } from "./SessionStreams.ts"
import { sseHeaders } from "./sse.ts"

/** Requests of one batch served at once. */
const batchConcurrency = 8

const json = (body: unknown, headers: Record<string, string> = {}) =>
  HttpServerResponse.text(JSON.stringify(body), { contentType: "application/json", headers })

const accepts = (accept: string | undefined, type: string) =>
  accept === undefined || accept.includes(type) || accept.includes("*/*")

const requestIds = (messages: ReadonlyArray<unknown>): Array<RequestId> => {
  const ids: Array<RequestId> = []
  for (const m of messages) {
    const message = m as { id?: unknown; method?: unknown } | null
    if (typeof message?.method === "string" && (typeof message.id === "string" || typeof message.id === "number")) ids.push(message.id)
  }
  return ids
}

/** The revision a 2026-07-28 request names in its `_meta`, when the header is absent. */
const declaredVersion = (messages: ReadonlyArray<unknown>) =>
  (messages[0] as { params?: { _meta?: Record<string, unknown> } } | null)?.params?._meta?.["io.modelcontextprotocol/protocolVersion"]


/** Messages after which a session's shared record changes: what the client declared or asked for. */
const sessionChanging = new Set(["initialize", "logging/setLevel", "resources/subscribe", "resources/unsubscribe"])
const changesSession = (message: unknown) => sessionChanging.has((message as { method?: unknown } | null)?.method as string)

const isInitialize = (message: unknown) => (message as { method?: unknown } | null)?.method === "initialize"

export const makeStreamableHttp = Effect.gen(function*() {
  const engine = yield* McpEngine
  const sessions = yield* McpSessions
  const config = yield* AppConfig
  const registry = yield* ToolRegistry

  /** Whether serving a message may send the client something before its result: only upstreams do. */
  const mayNotify = (message: unknown) => {
    const { method, params } = message as { method?: unknown; params?: { name?: unknown } } | null ?? {}
    if (typeof method !== "string" || !reachingUpstreams.has(method)) return false
    if (method !== "tools/call") return true
    const tool = typeof params?.name === "string" ? registry.find(params.name) : undefined
    return tool?.family === "upstream"
  }

  /** The messages of a POST, served for `peer` on `streams`; the response to send. */
  const serve = (peer: Peer, streams: SessionStreams, messages: ReadonlyArray<unknown>, batch: boolean, acceptsSse: boolean, headers: Record<string, string>) =>
    Effect.gen(function*() {
      const ids = requestIds(messages)
      if (ids.length === 0) {
        // notifications and responses get 202; messages that are neither get their errors
        const replies = (yield* Effect.forEach(messages, (message) => engine.handle(peer, message))).filter((r) => r !== undefined)
        if (replies.length === 0) return HttpServerResponse.empty({ status: 202, headers })
        return json(batch ? replies : replies[0], headers).pipe(HttpServerResponse.setStatus(400))
      }
      if (!messages.some(mayNotify)) {
        // nothing in it can send the client anything before its result: answered as JSON, in this fiber
        const replies = yield* Effect.forEach(messages, (message) => engine.handle(peer, message), { concurrency: batchConcurrency })
        const responses = replies.filter((reply): reply is JsonRpcResponse => reply !== undefined)
        return json(batch ? responses : responses[0], headers)
      }
      const stream = streams.post(ids, acceptsSse)
      const work = Effect.forEach(messages, (message) => engine.handle(peer, message), { concurrency: batchConcurrency }).pipe(
        Effect.map((replies) => replies.filter((reply): reply is JsonRpcResponse => reply !== undefined)),
        Effect.flatMap((responses) => Effect.sync(() => stream.finish(responses))),
        // however the work ends, its POST is answered (a stopped request: that it was cancelled)
        Effect.onExit((exit) => Effect.sync(() => {
          if (exit._tag === "Failure") stream.finish(ids.map((id) => failure(id, { code: JsonRpcCode.RequestCancelled, message: "Request cancelled" })))
          streams.settled(ids, stream)
        }))
      )
      // the work outlives this handler once its answer is a stream; until then, a client that goes away
      // (or server.timeout) stops it
      const running = yield* Effect.forkDetach(work, { startImmediately: true })
      const outcome = yield* Deferred.await(stream.outcome).pipe(Effect.onInterrupt(() => Fiber.interrupt(running)))
      if (outcome._tag === "Json") {
        const body = batch ? outcome.responses : outcome.responses[0]
        return json(body, headers)
      }
      // without a session nothing is kept to resume: a client that goes away stops the work
      const onClose = streams.resumable ? () => {} : () => void Effect.runFork(Fiber.interrupt(running))
      return HttpServerResponse.stream(outcome.channel.body(onClose), { contentType: "text/event-stream", headers: { ...sseHeaders, ...headers } })
    })

  const post = (request: HttpServerRequest.HttpServerRequest, caller: Caller, version: string | undefined) =>
    Effect.gen(function*() {
      const contentType = request.headers["content-type"]
      if (contentType !== undefined && !contentType.toLowerCase().includes("application/json")) {
        return new TransportRefused({ status: 415, reason: `Content-Type must be application/json, got ${JSON.stringify(contentType.slice(0, 60))}` })
      }
      const accept = request.headers["accept"]
      if (!accepts(accept, "application/json") && !accepts(accept, "text/event-stream")) {
        return new TransportRefused({ status: 406, reason: "Accept must include application/json and text/event-stream" })
      }
      const parsed = parseBody(yield* request.text)
      if (!parsed.ok) return json(parsed.response, {}).pipe(HttpServerResponse.setStatus(400))
      const batch = Array.isArray(parsed.value)
      const messages: ReadonlyArray<unknown> = batch ? parsed.value as Array<unknown> : [parsed.value]
      const { maxBatchSize } = config.current().security
      if (batch && messages.length > maxBatchSize) return new BatchTooLarge({ size: messages.length, limit: maxBatchSize })
      if (batch && messages.length === 0) {
        return json({ jsonrpc: "2.0", id: null, error: { code: -32600, message: "Invalid Request: empty batch" } }).pipe(HttpServerResponse.setStatus(400))
      }
      const acceptsSse = accept === undefined || accepts(accept, "text/event-stream")

      const id = request.headers["mcp-session-id"]
      let session: Session | undefined
      let opening = false
      if (id !== undefined) {
        session = yield* sessions.find(id, caller)
        if (session === undefined) return new SessionNotFound()
      } else if (messages.some(isInitialize)) {
        const requested = (messages.find(isInitialize) as { params?: { protocolVersion?: unknown } }).params?.protocolVersion
        const opened = yield* sessions.open(caller, engine.negotiate(requested))
        if (opened instanceof SessionLimit) return opened
        session = opened
        opening = true
      }
      if (session === undefined && (version ?? declaredVersion(messages)) !== sessionlessVersion) {
        // revisions before 2026-07-28 serve requests in a session only
        const ids = requestIds(messages)
        const reason = "Mcp-Session-Id header is required: send initialize first (or MCP-Protocol-Version: 2026-07-28, which has no sessions)"
        if (ids.length === 0) return new TransportRefused({ status: 400, reason })
        const errors = ids.map((id) => failure(id, { code: JsonRpcCode.InvalidRequest, message: reason }))
        return json(batch ? errors : errors[0]).pipe(HttpServerResponse.setStatus(400))
      }
      if (session === undefined) {
        // 2026-07-28: this request alone, with nothing kept after it
        const streams = new SessionStreams(undefined, 0)
        // a key of its own: an upstream never takes two sessionless requests for one client
        const peer = new Peer(`request-${randomUUID()}`, caller, sessionlessVersion, streams)
        peer.canAnswer = false
        streams.protocolVersion = () => peer.protocolVersion
        return yield* serve(peer, streams, messages, batch, acceptsSse, {})
      }
      const current = session
      current.busy++
      const response = yield* serve(current.peer, current.streams, messages, batch, acceptsSse, { "mcp-session-id": current.id }).pipe(
        Effect.ensuring(Effect.sync(() => {
          current.busy--
          current.lastUsed = Date.now()
        }))
      )
      if (opening && !current.peer.initialized) {
        // initialize failed: no session is kept, and none is named
        yield* sessions.end(current.id)
        return HttpServerResponse.removeHeader(response, "mcp-session-id")
      }
      if (messages.some(changesSession)) yield* sessions.persist(current)
      return response
    })

  const get = (request: HttpServerRequest.HttpServerRequest, caller: Caller) =>
    Effect.gen(function*() {
      if (!accepts(request.headers["accept"], "text/event-stream")) {
        return new TransportRefused({ status: 406, reason: "GET /mcp opens an event stream: Accept must include text/event-stream" })
      }
      const id = request.headers["mcp-session-id"]
      if (id === undefined) return new TransportRefused({ status: 400, reason: "GET /mcp needs the Mcp-Session-Id of a session opened with initialize" })
      const session = yield* sessions.find(id, caller)
      if (session === undefined) return new SessionNotFound()
      const lastEventId = request.headers["last-event-id"]
      const resumed = lastEventId === undefined ? undefined : session.streams.resume(lastEventId)
      const channel = resumed === undefined ? session.streams.openStandalone() : resumed === "busy" ? undefined : resumed
      if (channel === undefined) return new TransportRefused({ status: 409, reason: "This session already has a GET stream open" })
      return HttpServerResponse.stream(channel.body(() => { session.lastUsed = Date.now() }), {
        contentType: "text/event-stream",
        headers: { ...sseHeaders, "mcp-session-id": session.id }
      })
    })

  const remove = (request: HttpServerRequest.HttpServerRequest, caller: Caller) =>
    Effect.gen(function*() {
      const id = request.headers["mcp-session-id"]
      if (id === undefined) return new TransportRefused({ status: 400, reason: "DELETE /mcp needs the Mcp-Session-Id of the session to end" })
      if ((yield* sessions.find(id, caller)) === undefined) return new SessionNotFound()
      yield* sessions.end(id)
      return HttpServerResponse.empty({ status: 204 })
    })

  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const caller = yield* CurrentCaller
    const version = request.headers["mcp-protocol-version"]
    if (version !== undefined && !supportedVersions.includes(version)) {
      return new UnsupportedProtocolVersion({ version, supported: supportedVersions }) as HttpServerResponse.HttpServerResponse | McpEdgeError
    }
    switch (request.method) {
      case "POST":
        return yield* post(request, caller, version)
      case "GET":
        return yield* get(request, caller)
      case "DELETE":
        return yield* remove(request, caller)
      default:
        return new TransportRefused({ status: 405, reason: `${request.method} is not a method of /mcp: use POST, GET or DELETE` })
    }
  })
})

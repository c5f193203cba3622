/**
 * Plain JSON-RPC 2.0 at POST /api/mcp/jsonrpc: the MCP methods of the protocol engine (tools/list,
 * tools/call, resources, prompts, ping, ...) without sessions or streams, plus mcp/stats; single or
 * batched (at most security.maxBatchSize messages). A single error is answered with its HTTP status
 * (-32029 is a 429 with the rate-limit headers); each tools/call of a batch counts against the
 * caller's rate limit on its own.
 */
import { randomUUID } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { AppConfig } from "../config/AppConfig.ts"
import { failure, type JsonRpcResponse, parseBody } from "../mcp/jsonRpc.ts"
import { McpEngine, type Profile } from "../mcp/McpEngine.ts"
import { Peer } from "../mcp/Peer.ts"
import { latestVersion } from "../mcp/protocols.ts"
import { recordJsonRpcError } from "../observability/instruments.ts"
import { ToolStats } from "../observability/ToolStats.ts"
import { type Caller } from "../router/Caller.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { Router } from "../router/Router.ts"
import { httpHeadersOfJsonRpcError, httpStatusOfJsonRpcCode, JsonRpcCode } from "../router/wire.ts"

/** Requests of one batch served at once. */
const batchConcurrency = 8

/** A plain JSON-RPC caller has no stream: the router cannot notify or ask it anything. */
const noStream = { send: () => false }

export const makeJsonRpcHandler = Effect.gen(function*() {
  const engine = yield* McpEngine
  const router = yield* Router
  const stats = yield* ToolStats
  const config = yield* AppConfig
  const profile: Profile = {
    extra: {
      "mcp/stats": (_params, peer) => Effect.map(stats.snapshot, (snapshot) => ({ ...snapshot, toolCount: router.list(peer.caller).length }))
    },
    runNotifications: true,
    methodsHint: "this endpoint serves the MCP methods (tools/list, tools/call, resources/*, prompts/*, completion/complete, ping) and mcp/stats"
  }

  const reply = (body: unknown, status: number, headers: Record<string, string> = {}) =>
    HttpServerResponse.text(JSON.stringify(body), { status, contentType: "application/json", headers })

  const refuse = (message: string) =>
    Effect.as(recordJsonRpcError(JsonRpcCode.InvalidRequest), reply(failure(null, { code: JsonRpcCode.InvalidRequest, message }), 400))

  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const caller = Option.getOrElse(yield* Effect.serviceOption(CurrentCaller), (): Caller => ({ transport: "jsonrpc", permissions: ["*"] }))
    // a key of its own: an upstream never takes two requests of this endpoint for one client
    const peer = new Peer(`request-${randomUUID()}`, caller, latestVersion, noStream)
    peer.plainErrors = true
    peer.canAnswer = false
    // a body over security.maxPayloadBytes fails here and is answered 413 at the edge
    const parsed = parseBody(yield* request.text)
    if (!parsed.ok) {
      yield* recordJsonRpcError(JsonRpcCode.ParseError)
      return reply(parsed.response, 400)
    }
    const body = parsed.value
    if (Array.isArray(body)) {
      const maxBatchSize = config.current().security.maxBatchSize
      if (body.length === 0) return yield* refuse("Invalid Request: empty batch")
      if (body.length > maxBatchSize) return yield* refuse(`Invalid Request: a batch holds at most ${maxBatchSize} requests, got ${body.length}`)
      const replies = yield* Effect.forEach(body, (message) => engine.handle(peer, message, profile), { concurrency: batchConcurrency })
      const sent = replies.filter((r): r is JsonRpcResponse => r !== undefined)
      return sent.length === 0 ? HttpServerResponse.empty({ status: 204 }) : reply(sent, 200)
    }
    const single = yield* engine.handle(peer, body, profile)
    if (single === undefined) return HttpServerResponse.empty({ status: 204 })
    return "error" in single
      ? reply(single, httpStatusOfJsonRpcCode(single.error.code), httpHeadersOfJsonRpcError(single.error))
      : reply(single, 200)
  })
})

export const JsonRpcRoute = HttpRouter.use((router) =>
  Effect.flatMap(makeJsonRpcHandler, (handler) => router.add("POST", "/api/mcp/jsonrpc", handler))
)

/**
 * Plain JSON-RPC 2.0 at POST /api/mcp/jsonrpc: tools/list, tools/call, mcp/stats and ping, single or
 * batched (at most security.maxBatchSize messages). Calls go through `Router` like every other entry
 * point, and each tools/call of a batch counts against the caller's rate limit there: a call past it
 * is answered -32029 with `data: { retryAfterSeconds, limit, window }`, the rest of the batch as usual.
 */
import { Effect, Option, Schema, SchemaIssue } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { recordJsonRpcError } from "../observability/instruments.ts"
import { ToolStats } from "../observability/ToolStats.ts"
import { type Caller } from "../router/Caller.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { Router } from "../router/Router.ts"
import {
  httpHeadersOfJsonRpcError,
  httpStatusOfJsonRpcCode,
  JsonRpcCode,
  type JsonRpcErrorObject,
  routerErrorToJsonRpc,
  toCallToolResult,
  toToolListing
} from "../router/wire.ts"

const RequestId = Schema.Union([Schema.String, Schema.Number, Schema.Null])
const JsonRpcRequest = Schema.Struct({
  jsonrpc: Schema.Literal("2.0"),
  method: Schema.String,
  id: Schema.optionalKey(RequestId),
  params: Schema.optionalKey(Schema.Unknown)
})
const ToolsCallParams = Schema.Struct({
  name: Schema.String,
  arguments: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
})

const decodeRequest = Schema.decodeUnknownExit(JsonRpcRequest)
const decodeCallParams = Schema.decodeUnknownExit(ToolsCallParams, { errors: "all" })
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

type Id = typeof RequestId.Type
type Reply = { jsonrpc: "2.0"; id: Id; result: unknown } | { jsonrpc: "2.0"; id: Id; error: JsonRpcErrorObject }

const failure = (id: Id, error: JsonRpcErrorObject): Reply => ({ jsonrpc: "2.0", id, error })

const issueText = (error: Schema.SchemaError) =>
  formatIssues(error.issue).issues.map((i) => (i.path?.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ")

const idOf = (message: unknown): Id => {
  const id = (message as { id?: unknown } | null)?.id
  return typeof id === "string" || typeof id === "number" ? id : null
}

export const makeJsonRpcHandler = Effect.gen(function*() {
  const router = yield* Router
  const stats = yield* ToolStats
  const config = yield* AppConfig

  const dispatch = (caller: Caller, method: string, params: unknown): Effect.Effect<unknown, JsonRpcErrorObject> => {
    switch (method) {
      case "ping":
        return Effect.succeed({})
      case "tools/list":
        return Effect.succeed({ tools: router.list(caller).map(toToolListing) })
      case "mcp/stats":
        return Effect.map(stats.snapshot, (snapshot) => ({ ...snapshot, toolCount: router.list(caller).length }))
      case "tools/call": {
        const decoded = decodeCallParams(params ?? {})
        if (decoded._tag === "Failure") {
          const error = decoded.cause.reasons.find((r) => r._tag === "Fail")?.error
          return Effect.fail({ code: JsonRpcCode.InvalidParams, message: `Invalid tools/call params: ${error ? issueText(error) : "malformed"}` })
        }
        return router.call(caller, decoded.value.name, decoded.value.arguments ?? {}).pipe(
          Effect.map(toCallToolResult),
          Effect.mapError(routerErrorToJsonRpc)
        )
      }
      default:
        return Effect.fail({
          code: JsonRpcCode.MethodNotFound,
          message: `Method "${method}" not found; this endpoint serves tools/list, tools/call, mcp/stats and ping`
        })
    }
  }

  /** One message of a request or batch; a notification (no id) gets no reply. */
  const handleMessage = (caller: Caller, message: unknown): Effect.Effect<Reply | undefined> => {
    const decoded = decodeRequest(message)
    if (decoded._tag === "Failure") {
      const error = decoded.cause.reasons.find((r) => r._tag === "Fail")?.error
      return recordJsonRpcError(JsonRpcCode.InvalidRequest).pipe(Effect.as(failure(idOf(message), {
        code: JsonRpcCode.InvalidRequest,
        message: `Invalid JSON-RPC request: ${error ? issueText(error) : "malformed"}; expected {"jsonrpc":"2.0","method":...,"id":...}`
      })))
    }
    const { id, method, params } = decoded.value
    return dispatch(caller, method, params).pipe(
      Effect.tapError((error) => recordJsonRpcError(error.code)),
      Effect.match({
        onSuccess: (result): Reply => ({ jsonrpc: "2.0", id: id ?? null, result }),
        onFailure: (error) => failure(id ?? null, error)
      }),
      Effect.map((reply) => (id === undefined ? undefined : reply))
    )
  }

  const reply = (body: unknown, status: number, headers: Record<string, string> = {}) => HttpServerResponse.jsonUnsafe(body, { status, headers })

  return Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const caller = Option.getOrElse(yield* Effect.serviceOption(CurrentCaller), (): Caller => ({ transport: "jsonrpc", permissions: ["*"] }))
    // a body over security.maxPayloadBytes fails here and is answered 413 at the edge
    const text = yield* request.text
    let body: unknown
    try {
      body = JSON.parse(text)
    } catch (error) {
      yield* recordJsonRpcError(JsonRpcCode.ParseError)
      return reply(failure(null, { code: JsonRpcCode.ParseError, message: `Parse error: ${(error as Error).message}` }), 400)
    }
    if (Array.isArray(body)) {
      const maxBatchSize = config.current().security.maxBatchSize
      if (body.length === 0 || body.length > maxBatchSize) {
        const message = body.length === 0 ? "Invalid Request: empty batch" : `Invalid Request: a batch holds at most ${maxBatchSize} requests, got ${body.length}`
        yield* recordJsonRpcError(JsonRpcCode.InvalidRequest)
        return reply(failure(null, { code: JsonRpcCode.InvalidRequest, message }), 400)
      }
      const replies = yield* Effect.forEach(body, (message) => handleMessage(caller, message), { concurrency: 8 })
      const sent = replies.filter((r) => r !== undefined)
      return sent.length === 0 ? HttpServerResponse.empty({ status: 204 }) : reply(sent, 200)
    }
    const single = yield* handleMessage(caller, body)
    if (single === undefined) return HttpServerResponse.empty({ status: 204 })
    return "error" in single
      ? reply(single, httpStatusOfJsonRpcCode(single.error.code), httpHeadersOfJsonRpcError(single.error))
      : reply(single, 200)
  })
})

export const JsonRpcRoute = HttpRouter.use((router) =>
  Effect.flatMap(makeJsonRpcHandler, (handler) => router.add("POST", "/api/mcp/jsonrpc", handler))
)

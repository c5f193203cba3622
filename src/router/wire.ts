/**
 * The one place where errors and results become wire formats: JSON-RPC codes, HTTP statuses and MCP
 * errors. Entry points call these and never pick a code themselves.
 */
import type { ToolDefinition, ToolOutput } from "../tools/ToolDefinition.ts"
import type { EdgeError, RateLimited } from "../security/SecurityErrors.ts"
import type { AuditUnavailable } from "../security/AuditLog.ts"
import type { RouterError } from "./RouterErrors.ts"

export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
  /** A request the client cancelled with notifications/cancelled. */
  RequestCancelled: -32800,
  // implementation-defined codes of the router
  Unauthenticated: -32001,
  Forbidden: -32003,
  PayloadTooLarge: -32013,
  SessionNotFound: -32004,
  SessionLimit: -32005,
  RateLimited: -32029,
  Busy: -32053,
  /** The call's audit entry cannot be written: nothing runs unaudited (HTTP 503, Retry-After). */
  AuditUnavailable: -32050
} as const
export type JsonRpcCode = (typeof JsonRpcCode)[keyof typeof JsonRpcCode]

export interface JsonRpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

/** HTTP status of a single JSON-RPC response that carries this error code. */
export const httpStatusOfJsonRpcCode = (code: number): number => {
  switch (code) {
    case JsonRpcCode.ParseError:
    case JsonRpcCode.InvalidRequest:
    case JsonRpcCode.InvalidParams:
      return 400
    case JsonRpcCode.MethodNotFound:
      return 404
    case JsonRpcCode.Unauthenticated:
      return 401
    case JsonRpcCode.Forbidden:
      return 403
    case JsonRpcCode.PayloadTooLarge:
      return 413
    case JsonRpcCode.RateLimited:
      return 429
    case JsonRpcCode.AuditUnavailable:
    case JsonRpcCode.Busy:
      return 503
    default:
      return 500
  }
}

export const routerErrorToJsonRpc = (error: RouterError): JsonRpcErrorObject => {
  switch (error._tag) {
    case "PermissionDenied":
      return { code: JsonRpcCode.Forbidden, message: error.message }
    case "UnknownTool":
      return { code: JsonRpcCode.InvalidParams, message: error.message, data: { tool: error.name } }
    case "InvalidArguments":
      return { code: JsonRpcCode.InvalidParams, message: error.message, data: { tool: error.tool, problems: error.problems } }
    case "RateLimited":
      return { code: JsonRpcCode.RateLimited, message: error.message, data: rateLimitData(error) }
    case "AuditUnavailable":
      return { code: JsonRpcCode.AuditUnavailable, message: error.message, data: auditUnavailableData(error) }
    case "ToolBusy":
      return { code: JsonRpcCode.Busy, message: error.message, data: { family: error.family, retryAfterSeconds: error.retryAfterSeconds } }
  }
}

/** The `data` of a -32050 error. */
const auditUnavailableData = (error: AuditUnavailable) => ({ reason: error.reason, retryAfterSeconds: error.retryAfterSeconds })

/** The `data` of a -32029 error, on /api/mcp/jsonrpc and /mcp alike. */
const rateLimitData = (error: RateLimited) => ({ retryAfterSeconds: error.retryAfterSeconds, limit: error.limit, window: error.window })

/**
 * How a failed tools/call is answered over MCP. A rate limit is always its own JSON-RPC error (-32029
 * with `data: { retryAfterSeconds, limit, window }`), as is an unknown tool. From 2025-11-25 on, bad
 * arguments, a tool the key may not call, a busy tool family and an unwritable audit entry are tool execution
 * errors: an `isError` result the model can read and act on (the specification's choice for input
 * validation); before that they are JSON-RPC errors as on /api/mcp/jsonrpc.
 */
export const routerErrorToMcpCall = (error: RouterError, executionErrors: boolean): { readonly error: JsonRpcErrorObject } | { readonly result: unknown } =>
  executionErrors && (error._tag === "InvalidArguments" || error._tag === "PermissionDenied" || error._tag === "ToolBusy" || error._tag === "AuditUnavailable")
    ? { result: { content: [{ type: "text", text: error.message }], isError: true } }
    : { error: routerErrorToJsonRpc(error) }

/** Headers of an HTTP response that carries a single JSON-RPC error: on -32029 those of a 429 at the edge, on -32050 a Retry-After. */
export const httpHeadersOfJsonRpcError = (error: JsonRpcErrorObject): Record<string, string> => {
  const data = error.data as { readonly retryAfterSeconds?: unknown; readonly limit?: unknown } | undefined
  if ((error.code === JsonRpcCode.AuditUnavailable || error.code === JsonRpcCode.Busy) && typeof data?.retryAfterSeconds === "number") {
    return { "retry-after": String(data.retryAfterSeconds) }
  }
  if (error.code !== JsonRpcCode.RateLimited || typeof data?.retryAfterSeconds !== "number" || typeof data.limit !== "number") return {}
  const retryAfter = String(data.retryAfterSeconds)
  return { "retry-after": retryAfter, "ratelimit-limit": String(data.limit), "ratelimit-remaining": "0", "ratelimit-reset": retryAfter }
}

/** A tool's output as the `result` of tools/call. */
export const toCallToolResult = (output: ToolOutput) => ({
  content: output.content,
  ...(output.structuredContent === undefined ? {} : { structuredContent: output.structuredContent }),
  isError: output.isError === true,
  ...(output._meta === undefined ? {} : { _meta: output._meta })
})

/** A tool as tools/list shows it. */
export const toToolListing = (tool: ToolDefinition) => ({
  name: tool.name,
  ...(tool.annotations.title === undefined ? {} : { title: tool.annotations.title }),
  description: tool.description,
  inputSchema: tool.inputJsonSchema,
  // every hint spelled out, so clients do not fall back on the spec's pessimistic defaults
  annotations: {
    ...tool.annotations,
    destructiveHint: tool.annotations.destructiveHint ?? false,
    idempotentHint: tool.annotations.idempotentHint ?? tool.annotations.readOnlyHint
  },
  // an upstream tool's own entry (title, annotations, outputSchema, icons, _meta) as its server listed it
  ...tool.listing
})

/** The JSON body of every HTTP error the router sends. */
export const httpErrorBody = (code: string, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details }
})

/** HTTP status, JSON-RPC code, error code and extra headers of a refusal at the edge. */
export const edgeErrorWire = (error: EdgeError): {
  readonly status: number
  readonly jsonRpcCode: number
  readonly code: string
  readonly headers: Readonly<Record<string, string>>
} => {
  switch (error._tag) {
    case "Unauthenticated":
      return { status: 401, jsonRpcCode: JsonRpcCode.Unauthenticated, code: "unauthorized", headers: { "www-authenticate": "Bearer" } }
    case "PermissionDenied":
      return { status: 403, jsonRpcCode: JsonRpcCode.Forbidden, code: "forbidden", headers: {} }
    case "AddressBlocked":
      return { status: 403, jsonRpcCode: JsonRpcCode.Forbidden, code: "address_blocked", headers: {} }
    case "OriginRefused":
      return { status: 403, jsonRpcCode: JsonRpcCode.Forbidden, code: "origin_refused", headers: {} }
    case "PayloadTooLarge":
      return { status: 413, jsonRpcCode: JsonRpcCode.PayloadTooLarge, code: "payload_too_large", headers: { connection: "close" } }
    case "KeyStoreError":
      return { status: 503, jsonRpcCode: JsonRpcCode.InternalError, code: "storage_unavailable", headers: { "retry-after": "5" } }
    case "SessionNotFound":
      return { status: 404, jsonRpcCode: JsonRpcCode.SessionNotFound, code: "session_not_found", headers: {} }
    case "SessionLimit":
      return error.scope === "key"
        ? { status: 429, jsonRpcCode: JsonRpcCode.SessionLimit, code: "session_limit", headers: { "retry-after": "60" } }
        : { status: 503, jsonRpcCode: JsonRpcCode.SessionLimit, code: "session_limit", headers: { "retry-after": "60" } }
    case "UnsupportedProtocolVersion":
    case "BatchTooLarge":
      return { status: 400, jsonRpcCode: JsonRpcCode.InvalidRequest, code: "invalid_request", headers: {} }
    case "TransportRefused":
      return {
        status: error.status,
        jsonRpcCode: JsonRpcCode.InvalidRequest,
        code: "invalid_request",
        headers: error.status === 405 ? { allow: "GET, POST, DELETE" } : {}
      }
    case "RateLimited":
      return {
        status: 429,
        jsonRpcCode: JsonRpcCode.RateLimited,
        code: "rate_limited",
        headers: { "retry-after": String(error.retryAfterSeconds), "ratelimit-limit": String(error.limit), "ratelimit-remaining": "0", "ratelimit-reset": String(error.retryAfterSeconds) }
      }
  }
}

/** The body of a refusal: a JSON-RPC error on JSON-RPC endpoints, the router's error object elsewhere. */
export const edgeErrorBody = (error: EdgeError, jsonRpc: boolean) => {
  const wire = edgeErrorWire(error)
  return jsonRpc
    ? { jsonrpc: "2.0", id: null, error: { code: wire.jsonRpcCode, message: error.message } }
    : httpErrorBody(wire.code, error.message)
}

/** HTTP status and error code of the failures the admin routes answer with (keys, history, audit). */
export const adminErrorWire = (error: { readonly _tag: string }): { readonly status: number; readonly code: string } => {
  switch (error._tag) {
    case "KeyStoreError":
    case "ConfigVersionError":
    case "AuditError":
      return { status: 503, code: "storage_unavailable" }
    case "KeyNotFound":
      return { status: 404, code: "not_found" }
    default:
      return { status: 500, code: "internal_error" }
  }
}

/** The error code a WebSocket `error` or `tool_executed` reply carries for a tagged failure. */
export const socketErrorCode = (tag: string) =>
  ({
    UnknownTool: "unknown_tool",
    InvalidArguments: "invalid_arguments",
    RateLimited: "rate_limited",
    PermissionDenied: "forbidden",
    KeyNotFound: "not_found",
    KeyStoreError: "storage_unavailable",
    // the socket protocol's codes are fixed (ws/protocol.ts): the message names the audit store
    AuditUnavailable: "storage_unavailable",
    ToolBusy: "busy"
  } as const)[tag] ?? "invalid_message"

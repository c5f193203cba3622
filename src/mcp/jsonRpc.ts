/** JSON-RPC 2.0 messages as MCP carries them, and how an incoming message is told apart. */
import { JsonRpcCode, type JsonRpcErrorObject } from "../router/wire.ts"

export type RequestId = string | number
export type Params = Readonly<Record<string, unknown>>

export interface JsonRpcRequest {
  readonly jsonrpc: "2.0"
  readonly id: RequestId
  readonly method: string
  readonly params?: Params
}

export interface JsonRpcNotification {
  readonly jsonrpc: "2.0"
  readonly method: string
  readonly params?: Params
}

export type JsonRpcResponse =
  | { readonly jsonrpc: "2.0"; readonly id: RequestId | null; readonly result: unknown }
  | { readonly jsonrpc: "2.0"; readonly id: RequestId | null; readonly error: JsonRpcErrorObject }

export type Incoming =
  | { readonly kind: "request"; readonly message: JsonRpcRequest }
  | { readonly kind: "notification"; readonly message: JsonRpcNotification }
  | { readonly kind: "response"; readonly id: RequestId; readonly result?: unknown; readonly error?: JsonRpcErrorObject }
  | { readonly kind: "invalid"; readonly id: RequestId | null; readonly reason: string }

/** Longest request id accepted: ids are echoed and kept while a request runs. */
const maxIdLength = 256

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const validId = (id: unknown): id is RequestId =>
  (typeof id === "string" && id.length <= maxIdLength) || (typeof id === "number" && Number.isFinite(id))

/** What a parsed JSON value is, as a JSON-RPC message; never throws. */
export const classify = (value: unknown): Incoming => {
  if (!isObject(value)) return { kind: "invalid", id: null, reason: "a JSON-RPC message is an object" }
  const rawId = value.id
  const hasId = "id" in value && rawId !== undefined
  if (hasId && !validId(rawId)) {
    return { kind: "invalid", id: null, reason: `"id" must be a string of at most ${maxIdLength} characters or a finite number` }
  }
  const id = hasId ? rawId as RequestId : null
  if (value.jsonrpc !== "2.0") return { kind: "invalid", id, reason: `"jsonrpc" must be "2.0"` }
  const method = value.method
  if (method === undefined && id !== null && ("result" in value || "error" in value)) {
    const error = isObject(value.error) && typeof value.error.code === "number" && typeof value.error.message === "string"
      ? (value.error as unknown as JsonRpcErrorObject)
      : undefined
    return "error" in value && error === undefined
      ? { kind: "invalid", id, reason: `"error" must be an object with a numeric "code" and a "message"` }
      : { kind: "response", id, ...(error === undefined ? { result: value.result } : { error }) }
  }
  if (typeof method !== "string" || method.length === 0) return { kind: "invalid", id, reason: `"method" must be a non-empty string` }
  if ("params" in value && value.params !== undefined && !isObject(value.params)) {
    return { kind: "invalid", id, reason: `"params" must be an object` }
  }
  const params = value.params as Params | undefined
  return id !== null
    ? { kind: "request", message: { jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) } }
    : { kind: "notification", message: { jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) } }
}

export const success = (id: RequestId | null, result: unknown): JsonRpcResponse => ({ jsonrpc: "2.0", id, result })
export const failure = (id: RequestId | null, error: JsonRpcErrorObject): JsonRpcResponse => ({ jsonrpc: "2.0", id, error })

export const invalidRequest = (id: RequestId | null, reason: string) =>
  failure(id, { code: JsonRpcCode.InvalidRequest, message: `Invalid JSON-RPC request: ${reason}; expected {"jsonrpc":"2.0","method":...,"id":...}` })

export const parseError = (error: unknown) => failure(null, { code: JsonRpcCode.ParseError, message: `Parse error: ${(error as Error).message}` })

/** Parses a body; a syntax error is the -32700 response to send. */
export const parseBody = (text: string): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly response: JsonRpcResponse } => {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch (error) {
    return { ok: false, response: parseError(error) }
  }
}

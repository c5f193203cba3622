import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { edgeErrorBody, edgeErrorWire, httpErrorBody } from "../router/wire.ts"
import type { EdgeError } from "../security/SecurityErrors.ts"

export const jsonResponse = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status })

export const errorResponse = (status: number, code: string, message: string, details?: unknown) =>
  HttpServerResponse.jsonUnsafe(httpErrorBody(code, message, details), { status })

/** A refusal in the wire format of its route: a JSON-RPC error object, or the router's JSON error. */
export const refusalResponse = (error: EdgeError, jsonRpc: boolean, headers: Record<string, string> = {}) => {
  const wire = edgeErrorWire(error)
  return HttpServerResponse.jsonUnsafe(edgeErrorBody(error, jsonRpc), { status: wire.status, headers: { ...wire.headers, ...headers } })
}

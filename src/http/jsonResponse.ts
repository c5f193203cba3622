import { HttpServerResponse } from "effect/http"
import { httpErrorBody } from "../router/wire.ts"

export const jsonResponse = (body: unknown, status = 200) => HttpServerResponse.jsonUnsafe(body, { status })

export const errorResponse = (status: number, code: string, message: string, details?: unknown) =>
  HttpServerResponse.jsonUnsafe(httpErrorBody(code, message, details), { status })

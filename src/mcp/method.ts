/** What a method of the protocol is, and the helpers methods share. */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import { JsonRpcCode, type JsonRpcErrorObject } from "../router/wire.ts"
import type { Params, RequestId } from "./jsonRpc.ts"
import type { Peer } from "./Peer.ts"

export type MethodResult = Effect.Effect<unknown, JsonRpcErrorObject>
/** A method of the protocol: the params of the request, the client, and the request's id. */
export type Method = (params: Params, peer: Peer, id: RequestId) => MethodResult

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()
const issueText = (error: Schema.SchemaError) =>
  formatIssues(error.issue).issues.map((i) => (i.path?.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ")

/** Decodes params with one of effect's McpSchema request schemas, or fails -32602 saying what is wrong. */
export const paramsDecoder = <S extends Schema.Top & { readonly DecodingServices: never }>(method: string, schema: S) => {
  const decode = Schema.decodeUnknownExit(schema)
  return (params: Params): Effect.Effect<S["Type"], JsonRpcErrorObject> => {
    const decoded = decode(params)
    if (decoded._tag === "Success") return Effect.succeed(decoded.value)
    const error = decoded.cause.reasons.find((r) => r._tag === "Fail")?.error as Schema.SchemaError | undefined
    return Effect.fail({ code: JsonRpcCode.InvalidParams, message: `Invalid ${method} params: ${error === undefined ? "malformed" : issueText(error)}` })
  }
}

/** Items of a list per page; the cursor is the offset of the next page. */
const pageSize = 200
export const page = <A>(items: ReadonlyArray<A>, params: Params, key: string): Effect.Effect<Record<string, unknown>, JsonRpcErrorObject> => {
  const cursor = params.cursor
  const start = cursor === undefined ? 0 : typeof cursor === "string" && /^\d{1,9}$/.test(cursor) ? Number(cursor) : -1
  if (start < 0 || start > items.length) return Effect.fail({ code: JsonRpcCode.InvalidParams, message: `Invalid cursor ${JSON.stringify(cursor)}: use the nextCursor of the previous page` })
  const end = start + pageSize
  return Effect.succeed(end < items.length ? { [key]: items.slice(start, end), nextCursor: String(end) } : { [key]: start === 0 ? items : items.slice(start) })
}


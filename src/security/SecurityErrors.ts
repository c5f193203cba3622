/** Why the edge or the Router refused a request; wire.ts maps each to an HTTP status and JSON-RPC code. */
import * as Schema from "effect/Schema"
import type { McpEdgeError } from "../mcp/McpSessionErrors.ts"
import type { KeyStoreError } from "./KeyStore.ts"

export class Unauthenticated extends Schema.TaggedError<Unauthenticated>()("Unauthenticated", {
  reason: Schema.Literals(["missing", "invalid", "revoked", "expired"])
}) {
  override get message(): string {
    switch (this.reason) {
      case "missing":
        return "An API key is required: send Authorization: Bearer <key> or X-API-Key: <key>"
      case "invalid":
        return "The API key is not valid"
      case "revoked":
        return "The API key has been revoked"
      case "expired":
        return "The API key has expired"
    }
  }
}

export class PermissionDenied extends Schema.TaggedError<PermissionDenied>()("PermissionDenied", {
  keyName: Schema.String,
  needed: Schema.String
}) {
  override get message(): string {
    return `The API key "${this.keyName}" lacks the permission this needs: ${this.needed}`
  }
}

export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  limit: Schema.Number,
  window: Schema.Literals(["minute", "hour"]),
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `Rate limit of ${this.limit} requests per ${this.window} reached; retry after ${this.retryAfterSeconds} s`
  }
}

export class AddressBlocked extends Schema.TaggedError<AddressBlocked>()("AddressBlocked", {
  ip: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Requests from ${this.ip} are refused: ${this.reason}`
  }
}

export class OriginRefused extends Schema.TaggedError<OriginRefused>()("OriginRefused", {
  detail: Schema.String
}) {
  override get message(): string {
    return this.detail
  }
}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", {
  limit: Schema.Number
}) {
  override get message(): string {
    return `The request body is larger than ${this.limit} bytes (security.maxPayloadBytes)`
  }
}

export type EdgeError =
  | Unauthenticated
  | PermissionDenied
  | RateLimited
  | AddressBlocked
  | OriginRefused
  | PayloadTooLarge
  | KeyStoreError
  | McpEdgeError

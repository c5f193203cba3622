/** Why /mcp refused a request before the protocol engine saw it; wire.ts maps each to HTTP and JSON-RPC. */
import * as Schema from "effect/Schema"

export class SessionNotFound extends Schema.TaggedError<SessionNotFound>()("SessionNotFound", {}) {
  override get message(): string {
    return "No such MCP session for this key (it ended, expired, or was opened by another key): send initialize without Mcp-Session-Id to start one"
  }
}

export class SessionLimit extends Schema.TaggedError<SessionLimit>()("SessionLimit", {
  scope: Schema.Literals(["key", "total"]),
  limit: Schema.Number
}) {
  override get message(): string {
    return this.scope === "key"
      ? `This key has ${this.limit} open MCP sessions (mcp.maxSessionsPerKey): end one with DELETE /mcp, or wait for idle ones to expire`
      : `The router holds ${this.limit} MCP sessions (mcp.maxSessions): retry later`
  }
}

export class UnsupportedProtocolVersion extends Schema.TaggedError<UnsupportedProtocolVersion>()("UnsupportedProtocolVersion", {
  version: Schema.String,
  supported: Schema.Array(Schema.String)
}) {
  override get message(): string {
    return `MCP-Protocol-Version ${JSON.stringify(this.version.slice(0, 40))} is not supported; supported: ${this.supported.join(", ")}`
  }
}

export class BatchTooLarge extends Schema.TaggedError<BatchTooLarge>()("BatchTooLarge", {
  size: Schema.Number,
  limit: Schema.Number
}) {
  override get message(): string {
    return `A batch of ${this.size} messages is larger than security.maxBatchSize (${this.limit})`
  }
}

/** The request does not fit Streamable HTTP: wrong method, media type, Accept, or a second GET stream. */
export class TransportRefused extends Schema.TaggedError<TransportRefused>()("TransportRefused", {
  status: Schema.Literals([400, 405, 406, 409, 415]),
  reason: Schema.String
}) {
  override get message(): string {
    return this.reason
  }
}

export type McpEdgeError = SessionNotFound | SessionLimit | UnsupportedProtocolVersion | BatchTooLarge | TransportRefused

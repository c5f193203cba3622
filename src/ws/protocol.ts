/**
 * The WebSocket protocol at /ws: every client message is JSON decoded by this Schema union; server
 * messages are the `ServerMessage` shapes. The README documents each with an example.
 */
import * as Schema from "effect/Schema"
import { Permission } from "../security/permissions.ts"

export const Room = Schema.Literals(["metrics", "tool-executions", "alerts", "logs"])
export type Room = typeof Room.Type

const RequestId = Schema.Union([Schema.String, Schema.Number])

/**
 * Longest tool name or key id a message may carry (characters): replies name them back. Request ids are
 * bounded by websocket.maxIdLength, checked by the session.
 */
export const maxNameLength = 256
const BoundedName = Schema.String.check(Schema.isMaxLength(maxNameLength))

export const ClientMessage = Schema.Union([
  Schema.Struct({ type: Schema.Literal("auth"), apiKey: Schema.String }),
  Schema.Struct({ type: Schema.Literal("subscribe"), room: Room }),
  Schema.Struct({ type: Schema.Literal("unsubscribe"), room: Room }),
  Schema.Struct({ type: Schema.Literal("subscribe_metrics") }),
  Schema.Struct({
    type: Schema.Literal("execute_tool"),
    id: RequestId,
    toolName: BoundedName,
    arguments: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
  }),
  Schema.Struct({
    type: Schema.Literal("manage_api_key"),
    id: Schema.optionalKey(RequestId),
    action: Schema.Literals(["create", "revoke", "list"]),
    name: Schema.optionalKey(Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(100))),
    permissions: Schema.optionalKey(Schema.Array(Permission).check(Schema.isMinLength(1))),
    keyId: Schema.optionalKey(BoundedName)
  }),
  Schema.Struct({ type: Schema.Literal("ping"), id: Schema.optionalKey(RequestId) }),
  // the answer to the server's heartbeat ping
  Schema.Struct({ type: Schema.Literal("pong") })
])
export type ClientMessage = typeof ClientMessage.Type

/**
 * Close codes the router uses, besides the standard 1000, 1009 (message too big) and 1013 (full). The
 * 44xx codes mirror the HTTP status of the same refusal: 4401 as 401, 4403 as 403.
 */
export const CloseCode = {
  Normal: 1000,
  TooBig: 1009,
  TryAgainLater: 1013,
  /**
   * Not authenticated in time, or the connection's key was revoked or expired (closed within about a
   * second, whether or not the client sends anything). Another key may succeed on a new connection.
   */
  Unauthenticated: 4401,
  /**
   * The client's address is refused, as HTTP answers 403 address_blocked: it is in security.blockedIps, or
   * it failed to authenticate security.authFailureLimit.maxFailures times (over HTTP or by `auth` messages).
   * Checked at connect, at every message (an `auth` from a refused address is not tried) and every heartbeat.
   * Retrying with another key does not help until the block ends.
   */
  AddressBlocked: 4403,
  HeartbeatMissed: 4408,
  /** Too many invalid messages (websocket.maxInvalidMessagesPerMinute), or too many tool calls running at once (websocket.maxPendingRequests). */
  Flood: 4429,
  /**
   * The client does not read what it is sent: more than websocket.maxUnreadBytes (maxUnreadBytesUnauthenticated
   * before `auth`) unread when there is more to send, or broadcasts waiting for websocket.slowClientTimeout.
   * Such a client cannot read the close frame either: the connection is cut 250 ms later.
   */
  SlowConsumer: 4503
} as const

export type ErrorCode =
  | "invalid_json"
  | "invalid_message"
  | "unauthenticated"
  | "forbidden"
  | "address_blocked"
  | "unknown_tool"
  | "invalid_arguments"
  | "not_found"
  | "storage_unavailable"
  | "busy"
  | "rate_limited"

export type ServerMessage =
  | { readonly type: "welcome"; readonly connectionId: string; readonly version: string; readonly authRequired: boolean; readonly authenticated: boolean }
  | { readonly type: "auth_ok"; readonly keyName: string; readonly permissions: ReadonlyArray<string> }
  | { readonly type: "subscribed" | "unsubscribed"; readonly room: Room }
  | {
    readonly type: "tool_executed"
    readonly id: string | number
    readonly toolName: string
    readonly result?: unknown
    readonly error?: { readonly code: ErrorCode; readonly message: string }
    readonly durationMs: number
  }
  | { readonly type: "tool_execution"; readonly room: "tool-executions"; readonly event: unknown }
  | { readonly type: "metrics-update"; readonly sample: unknown }
  | { readonly type: "alert"; readonly alert: unknown }
  | { readonly type: "log"; readonly entry: unknown }
  | { readonly type: "api_key"; readonly id?: string | number; readonly action: string; readonly result: unknown }
  | { readonly type: "ping" }
  | { readonly type: "pong"; readonly id?: string | number }
  | { readonly type: "error"; readonly code: ErrorCode; readonly message: string; readonly id?: string | number }

/** Messages a slow client may lose (oldest first) rather than slow anyone down. */
export const droppable = (message: ServerMessage) =>
  message.type === "metrics-update" || message.type === "log" || message.type === "tool_execution" || message.type === "alert"

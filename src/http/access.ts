/**
 * Who may call a route, declared with the route itself: the decision is made on the route that matched
 * (never on the path string that was sent), so every spelling the HTTP router accepts for a path gets
 * that route's rule.
 */
import type { Transport } from "../router/Caller.ts"
import { needAdmin, needRead, type Requirement } from "../security/permissions.ts"

export interface Access {
  /** none: anyone, a key is optional; key: any valid key; else the permission the key must hold. */
  readonly need: "none" | "key" | Requirement
  /** The key may come later, in the connection's first message (WebSocket). */
  readonly keyLater?: boolean
  /** How refusals are written: the router's JSON error, or a JSON-RPC error object. */
  readonly wire: "json" | "jsonrpc"
  /**
   * Whether each request counts against the caller's rate limit. Routes that carry tool calls count
   * every call in the Router instead, so a batch costs what it runs.
   */
  readonly countRequests: boolean
  readonly transport: Transport
  /** Whether `server.timeout` bounds the request (not for connections that live on). */
  readonly timed: boolean
  /** Whether the route reads a request body; a body sent to one that does not is never read. */
  readonly body: boolean
}

const base = { wire: "json", countRequests: true, transport: "http", timed: true, body: false } as const

/** Health probes and the anonymous summary of /health. */
export const publicAccess: Access = { ...base, need: "none", countRequests: false }
/** Any valid key; also the rule of paths no route has, so anonymous callers learn nothing of which exist. */
export const keyAccess: Access = { ...base, need: "key" }
/** Tool lists, stats, metrics, logs. */
export const readAccess: Access = { ...base, need: needRead }
/** Configuration, keys, audit. */
export const adminAccess: Access = { ...base, need: needAdmin, body: true }
/** MCP Streamable HTTP: any key; tools are checked one by one. */
export const mcpAccess: Access = { need: "key", wire: "jsonrpc", countRequests: false, transport: "mcp", timed: true, body: true }
/** Plain JSON-RPC: any key; tools are checked one by one. */
export const jsonRpcAccess: Access = { ...mcpAccess, transport: "jsonrpc" }
/** The WebSocket API: a key now, or in the first message. The upgrade counts as a request; its tool calls count one by one. */
export const webSocketAccess: Access = { ...base, need: "key", keyLater: true, transport: "websocket", timed: false }

/** One row of the route table: what the README's Security section shows and /api/routes serves. */
export interface DeclaredRoute {
  readonly method: string
  readonly path: string
  readonly access: string
}

/** The access of a route in words, as the route table shows it. */
export const describeAccess = (access: Access): string =>
  access.need === "none"
    ? "public"
    : access.need === "key"
    ? access.keyLater ? "any key (or in the first message)" : "any key"
    : access.need.kind === "tool"
    ? `tool ${access.need.name}`
    : access.need.kind

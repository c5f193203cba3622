/**
 * What a tool call knows of the MCP client that made it: the client's declared capabilities, its
 * progress token, and a channel back to it for notifications (progress, logging) and requests
 * (sampling, elicitation, roots). The protocol engine provides it around `Router.call`; upstream tools
 * read it to relay what their upstream sends during the call. Transports without a way back to the
 * client (plain JSON-RPC, WebSocket) provide none, and upstreams are told the client cannot answer.
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"

/** An error the client (or the engine on its behalf) answered a server-to-client request with. */
export class ClientRequestFailed extends Data.TaggedError("ClientRequestFailed")<{
  readonly code: number
  readonly message: string
  readonly data?: unknown
}> {}

export interface ClientChannel {
  /** The client's `capabilities` from initialize (or 2026-07-28 request metadata); `{}` when none. */
  readonly capabilities: Readonly<Record<string, unknown>>
  /** Identifies the client's session (or connection): requests of an upstream never cross sessions. */
  readonly sessionKey: string
  /** Sends a notification to the client, on the stream of the current call where the transport has one. */
  readonly notify: (method: string, params: Readonly<Record<string, unknown>>) => Effect.Effect<void>
  /** Sends a request to the client and waits for its answer (bounded by the call's own timeout). */
  readonly request: (method: string, params: Readonly<Record<string, unknown>>) => Effect.Effect<unknown, ClientRequestFailed>
}

export class CallContext extends Context.Service<CallContext, {
  readonly client: ClientChannel
  /** `params._meta.progressToken` of the client's tools/call, if it asked for progress. */
  readonly progressToken: string | number | undefined
}>()("mcp-router/mcp/CallContext") {}

/**
 * What the protocol engine asks of the upstreams beyond their tools (which are in the ToolRegistry):
 * their resources, resource templates and prompts as the router's clients see them, and the requests
 * that go to the upstream owning one of them. Results are the upstream's JSON, passed through unchanged
 * apart from the names and URIs the router exposes.
 */
import * as Data from "effect/Data"
import type * as Effect from "effect/Effect"
import type * as Stream from "effect/Stream"

type Json = Readonly<Record<string, unknown>>

/** An upstream answered with a JSON-RPC error (passed on as it is), or could not be asked. */
export class UpstreamRequestFailed extends Data.TaggedError("UpstreamRequestFailed")<{
  readonly code: number
  readonly message: string
  readonly data?: unknown
}> {}

/** Things upstreams tell that the engine passes on to its clients. */
export type UpstreamEvent =
  | { readonly _tag: "ToolsChanged" }
  | { readonly _tag: "ResourcesChanged" }
  | { readonly _tag: "PromptsChanged" }
  /** `uri` as the router's clients know it. */
  | { readonly _tag: "ResourceUpdated"; readonly uri: string }
  /** A notifications/message an upstream sent outside any call (during a call it goes to that call's client). */
  | { readonly _tag: "Log"; readonly upstream: string; readonly params: Json }

export interface UpstreamSurface {
  /** Resources, templates and prompts of the upstreams that are up, with exposed URIs and names. */
  readonly resources: () => ReadonlyArray<Json>
  readonly resourceTemplates: () => ReadonlyArray<Json>
  readonly prompts: () => ReadonlyArray<Json>
  /** resources/read of an exposed URI (a listed one or one made from a template); the result's URIs exposed. */
  readonly readResource: (params: Json) => Effect.Effect<Json, UpstreamRequestFailed>
  /** prompts/get of an exposed prompt name. */
  readonly getPrompt: (params: Json) => Effect.Effect<Json, UpstreamRequestFailed>
  /** completion/complete, routed by `ref` (ref/prompt name or ref/resource URI template) to its upstream. */
  readonly complete: (params: Json) => Effect.Effect<Json, UpstreamRequestFailed>
  /** resources/subscribe and unsubscribe of an exposed URI; counted, so the upstream is asked once. */
  readonly subscribe: (uri: string) => Effect.Effect<void, UpstreamRequestFailed>
  readonly unsubscribe: (uri: string) => Effect.Effect<void, UpstreamRequestFailed>
  /** The most verbose level any client asked for: upstreams that log are set to it. */
  readonly setLogLevel: (level: string) => Effect.Effect<void>
  readonly events: Stream.Stream<UpstreamEvent>
}

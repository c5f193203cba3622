/**
 * The methods of the protocol surface that upstreams own: resources, resource templates, prompts and
 * completions. Only clients that may browse (keys with read, execute, admin or *) see or use them: a
 * key limited to some tools (tools:<glob>) gets none of its upstreams' data this way.
 */
import * as Effect from "effect/Effect"
import { JsonRpcCode, type JsonRpcErrorObject } from "../router/wire.ts"
import type { UpstreamRequestFailed, UpstreamSurface } from "../upstreams/surface.ts"
import { type Method, page } from "./method.ts"
import type { Params } from "./jsonRpc.ts"
import type { Peer } from "./Peer.ts"

export type Browse = (peer: Peer) => boolean

/** Subscriptions one client may hold. */
const maxSubscriptions = 256

const refused: JsonRpcErrorObject = {
  code: JsonRpcCode.Forbidden,
  message: "This key may not use upstream resources, prompts or completions: that needs read, execute, admin or *"
}

const asRpcError = (error: UpstreamRequestFailed): JsonRpcErrorObject =>
  error.data === undefined ? { code: error.code, message: error.message } : { code: error.code, message: error.message, data: error.data }

const uriOf = (params: Params, method: string): Effect.Effect<string, JsonRpcErrorObject> =>
  typeof params.uri === "string" && params.uri.length > 0 && params.uri.length <= 4096
    ? Effect.succeed(params.uri)
    : Effect.fail({ code: JsonRpcCode.InvalidParams, message: `Invalid ${method} params: "uri" must be a non-empty string of at most 4096 characters` })

export const surfaceMethods = (surface: UpstreamSurface, browse: Browse): Record<string, Method> => {
  const guarded = (method: Method): Method => (params, peer, id) => browse(peer) ? method(params, peer, id) : Effect.fail(refused)
  const empty = (key: string): Method => (params, peer) => page(browse(peer) ? list(key) : [], params, key)
  const list = (key: string) =>
    key === "resources" ? surface.resources() : key === "resourceTemplates" ? surface.resourceTemplates() : surface.prompts()

  return {
    "resources/list": empty("resources"),
    "resources/templates/list": empty("resourceTemplates"),
    "prompts/list": empty("prompts"),
    "resources/read": guarded((params) => Effect.flatMap(uriOf(params, "resources/read"), () => Effect.mapError(surface.readResource(params), asRpcError))),
    "prompts/get": guarded((params) =>
      typeof params.name === "string"
        ? Effect.mapError(surface.getPrompt(params), asRpcError)
        : Effect.fail({ code: JsonRpcCode.InvalidParams, message: `Invalid prompts/get params: "name" must be a string` })),
    "completion/complete": guarded((params) => Effect.mapError(surface.complete(params), asRpcError)),
    "resources/subscribe": guarded((params, peer) =>
      Effect.flatMap(uriOf(params, "resources/subscribe"), (uri): Effect.Effect<unknown, JsonRpcErrorObject> => {
        if (peer.subscriptions.has(uri)) return Effect.succeed({})
        if (peer.subscriptions.size >= maxSubscriptions) {
          return Effect.fail({ code: JsonRpcCode.InvalidRequest, message: `A client holds at most ${maxSubscriptions} subscriptions: unsubscribe from one first` })
        }
        return surface.subscribe(uri).pipe(Effect.mapError(asRpcError), Effect.tap(() => Effect.sync(() => peer.subscriptions.add(uri))), Effect.as({}))
      })),
    "resources/unsubscribe": guarded((params, peer) =>
      Effect.flatMap(uriOf(params, "resources/unsubscribe"), (uri) =>
        peer.subscriptions.delete(uri) ? surface.unsubscribe(uri).pipe(Effect.mapError(asRpcError), Effect.as({})) : Effect.succeed({})))
  }
}

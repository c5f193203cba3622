/**
 * The MCP protocol engine: one dispatcher of MCP JSON-RPC messages for every transport (/mcp, stdio,
 * and /api/mcp/jsonrpc as a profile of it). Method handlers live in a table; tool calls go through
 * `Router.call` (permissions, limits, audit, metrics), everything else of the protocol surface to the
 * upstreams that own it. Results pass through as JSON, never re-validated, so content arrives as sent.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as McpSchema from "effect/ai/McpSchema"
import { recordJsonRpcError } from "../observability/instruments.ts"
import { Router } from "../router/Router.ts"
import { JsonRpcCode, routerErrorToMcpCall, toCallToolResult, toToolListing } from "../router/wire.ts"
import type { ToolDefinition } from "../tools/ToolDefinition.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import type { UpstreamEvent } from "../upstreams/surface.ts"
import { Upstreams } from "../upstreams/Upstreams.ts"
import { serverName, version } from "../version.ts"
import { CallContext } from "./CallContext.ts"
import { classify, failure, invalidRequest, type JsonRpcResponse, type Params, type RequestId, success } from "./jsonRpc.ts"
import { logLevels, type Peer } from "./Peer.ts"
import { initializeVersions, latestVersion, sessionlessVersion, serverInstructions } from "./protocols.ts"
import { type Method, type MethodResult, page, paramsDecoder } from "./method.ts"
import { type Browse, surfaceMethods } from "./surfaceMethods.ts"

const decodeCall = paramsDecoder("tools/call", McpSchema.CallTool.payloadSchema)
const decodeInitialize = paramsDecoder("initialize", Schema.Struct({
  protocolVersion: Schema.String,
  capabilities: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown)),
  clientInfo: Schema.optionalKey(Schema.Record(Schema.String, Schema.Unknown))
}))
const decodeSetLevel = paramsDecoder("logging/setLevel", Schema.Struct({ level: Schema.Literals(logLevels) }))

export const serverInfo = { name: serverName, version }
export const serverCapabilities = {
  tools: { listChanged: true },
  resources: { subscribe: true, listChanged: true },
  prompts: { listChanged: true },
  logging: {},
  completions: {}
}

/** A tool as tools/list shows it, made once per definition. */
const listings = new WeakMap<ToolDefinition, unknown>()
const listingOf = (tool: ToolDefinition) => {
  let listing = listings.get(tool)
  if (listing === undefined) listings.set(tool, listing = toToolListing(tool))
  return listing
}

/**
 * Methods that may reach an upstream: they run until the client cancels them, and may notify or ask the
 * client (progress, logs, sampling) before their result.
 */
export const reachingUpstreams: ReadonlySet<string> = new Set(["tools/call", "resources/read", "prompts/get", "completion/complete"])

/** Revisions that answer bad tool arguments with an isError result rather than -32602. */
const executionErrorVersions = new Set(["2025-11-25", "2026-07-28"])

export interface Profile {
  /** Methods of this transport only (the JSON-RPC endpoint's mcp/stats). */
  readonly extra?: Readonly<Record<string, Method>>
  /** A method sent as a notification still runs (plain JSON-RPC); MCP notifications are only notifications. */
  readonly runNotifications?: boolean
  /** Named in the answer to an unknown method. */
  readonly methodsHint?: string
}

export class McpEngine extends Context.Service<McpEngine, {
  /** One message of a client: the response to send for a request, undefined for anything else. */
  readonly handle: (peer: Peer, message: unknown, profile?: Profile) => Effect.Effect<JsonRpcResponse | undefined>
  /** The revision initialize settles on for the one a client asked for. */
  readonly negotiate: (requested: unknown) => string
  /** Lets a client receive list changes, resource updates and upstream logs until the returned function runs. */
  readonly attach: (peer: Peer) => () => void
  /** Sets a client's subscriptions (a session taken on from another replica), upstreams told of the difference. */
  readonly subscribeAs: (peer: Peer, uris: ReadonlyArray<string>) => Effect.Effect<void>
}>()("mcp-router/mcp/McpEngine") {
  static readonly layer = Layer.effect(
    McpEngine,
    Effect.gen(function*() {
      const router = yield* Router
      const registry = yield* ToolRegistry
      const upstreams = yield* Upstreams
      const surface = upstreams.surface
      const peers = new Set<Peer>()

      const negotiate = (requested: unknown) =>
        typeof requested === "string" && initializeVersions.includes(requested) ? requested : latestVersion

      const browse: Browse = (peer) =>
        peer.caller.permissions.some((p) => p === "*" || p === "read" || p === "admin" || p === "execute")

      const callTool: Method = (params, peer, id) =>
        Effect.flatMap(decodeCall(params), (call) =>
          router.call(peer.caller, call.name, call.arguments).pipe(
            Effect.provideService(CallContext, { client: peer.channel(id), progressToken: call._meta?.progressToken }),
            Effect.matchEffect({
              onSuccess: (output) => Effect.succeed(toCallToolResult(output)),
              onFailure: (error) => {
                const answer = routerErrorToMcpCall(error, !peer.plainErrors && executionErrorVersions.has(peer.protocolVersion))
                return "error" in answer ? Effect.fail(answer.error) : Effect.succeed(answer.result)
              }
            })
          ))

      const table: Record<string, Method> = {
        ping: () => Effect.succeed({}),
        initialize: (params, peer) =>
          Effect.map(decodeInitialize(params), (init) => {
            peer.protocolVersion = negotiate(init.protocolVersion)
            peer.capabilities = init.capabilities ?? {}
            peer.clientInfo = init.clientInfo
            peer.initialized = true
            return { protocolVersion: peer.protocolVersion, capabilities: serverCapabilities, serverInfo, instructions: serverInstructions }
          }),
        "server/discover": () =>
          Effect.succeed({ supportedVersions: [sessionlessVersion, ...initializeVersions], capabilities: serverCapabilities, instructions: serverInstructions }),
        "tools/list": (params, peer) => page(router.list(peer.caller).map(listingOf), params, "tools"),
        "tools/call": callTool,
        "logging/setLevel": (params, peer) =>
          Effect.flatMap(decodeSetLevel(params), ({ level }) => {
            peer.logLevel = logLevels.indexOf(level)
            // upstreams log more only for clients that may see their logs
            return browse(peer) ? Effect.as(surface.setLogLevel(mostVerbose()), {}) : Effect.succeed({})
          }),
        ...surfaceMethods(surface, browse)
      }
      // a Map, so a method named like an object's own property (constructor, __proto__) is just unknown
      const methods = new Map(Object.entries(table))
      const methodOf = (name: string, profile: Profile | undefined) =>
        methods.get(name) ?? (profile?.extra !== undefined && Object.hasOwn(profile.extra, name) ? profile.extra[name] : undefined)

      const mostVerbose = () => {
        let least = logLevels.length - 1
        for (const peer of peers) if (peer.logLevel !== undefined && peer.logLevel < least && browse(peer)) least = peer.logLevel
        return logLevels[least]!
      }

      /** Runs a request in a fiber of its own, so notifications/cancelled can stop it. */
      const runCancellable = (peer: Peer, id: RequestId, effect: MethodResult): MethodResult =>
        Effect.flatMap(Effect.forkChild(effect, { startImmediately: true }), (fiber) => {
          if (!peer.track(id, fiber)) {
            return Effect.andThen(Fiber.interrupt(fiber), Effect.fail({ code: JsonRpcCode.InvalidRequest, message: `Request id ${JSON.stringify(id)} is already in use, or too many requests are running` }))
          }
          return Fiber.await(fiber).pipe(
            Effect.ensuring(Effect.sync(() => peer.untrack(id, fiber))),
            Effect.flatMap((exit) =>
              Exit.isSuccess(exit)
                ? Effect.succeed(exit.value)
                : exit.cause.reasons.some((r) => r._tag === "Fail")
                ? Effect.failCause(exit.cause)
                : Effect.fail({ code: JsonRpcCode.RequestCancelled, message: "Request cancelled" })),
            Effect.onInterrupt(() => Fiber.interrupt(fiber))
          )
        })

      const notification = (peer: Peer, method: string, params: Params | undefined) =>
        Effect.sync(() => {
          if (method === "notifications/cancelled") {
            const requestId = params?.requestId
            if (typeof requestId !== "string" && typeof requestId !== "number") return
            const fiber = peer.runningRequest(requestId)
            if (fiber !== undefined) Effect.runFork(Fiber.interrupt(fiber))
            else peer.elsewhere?.cancel(requestId)
          }
          // initialized, progress of the client's own work, roots/list_changed: nothing to do
        })

      const handle = (peer: Peer, message: unknown, profile?: Profile): Effect.Effect<JsonRpcResponse | undefined> => {
        const incoming = classify(message)
        switch (incoming.kind) {
          case "invalid":
            return recordJsonRpcError(JsonRpcCode.InvalidRequest).pipe(Effect.as(invalidRequest(incoming.id, incoming.reason)))
          case "response":
            if (!peer.answer(incoming.id, incoming.result, incoming.error)) peer.elsewhere?.answer(incoming.id, incoming.result, incoming.error)
            return Effect.undefined
          case "notification": {
            const { method, params } = incoming.message
            const handler = profile?.runNotifications === true ? methodOf(method, profile) : undefined
            // plain JSON-RPC runs a method sent as a notification and answers nothing
            if (handler !== undefined) return Effect.as(Effect.ignore(handler(params ?? {}, peer, "")), undefined)
            return Effect.as(notification(peer, method, params), undefined)
          }
          case "request": {
            const { id, method } = incoming.message
            const params = incoming.message.params ?? {}
            const handler = methodOf(method, profile)
            if (handler === undefined) {
              return recordJsonRpcError(JsonRpcCode.MethodNotFound).pipe(Effect.as(failure(id, {
                code: JsonRpcCode.MethodNotFound,
                message: `Method "${method.slice(0, 100)}" not found${profile?.methodsHint === undefined ? "" : `; ${profile.methodsHint}`}`
              })))
            }
            if (peer.protocolVersion === sessionlessVersion) adoptRequestMeta(peer, params)
            // a handler that throws or dies answers -32603; the log has the cause
            const run = Effect.suspend(() => handler(params, peer, id)).pipe(
              Effect.catchDefect((defect) =>
                Effect.logError(`MCP method ${method} failed`, defect).pipe(
                  Effect.andThen(Effect.fail({ code: JsonRpcCode.InternalError, message: `The router failed to handle ${method}; its log has the details` }))
                ))
            )
            return (reachingUpstreams.has(method) ? runCancellable(peer, id, run) : run).pipe(
              Effect.match({
                onSuccess: (result) => success(id, peer.protocolVersion === sessionlessVersion ? sessionlessResult(method, result) : result),
                onFailure: (error) => failure(id, error)
              }),
              Effect.tap((response) => "error" in response ? recordJsonRpcError(response.error.code) : Effect.void)
            )
          }
        }
      }

      /** Makes a peer's subscriptions these, subscribing and unsubscribing upstream for the difference. */
      const subscribeAs = (peer: Peer, uris: ReadonlyArray<string>) =>
        Effect.gen(function*() {
          const wanted = new Set(uris)
          for (const uri of [...peer.subscriptions]) {
            if (wanted.has(uri)) continue
            peer.subscriptions.delete(uri)
            yield* Effect.ignore(surface.unsubscribe(uri))
          }
          for (const uri of wanted) {
            if (peer.subscriptions.has(uri)) continue
            const done = yield* Effect.exit(surface.subscribe(uri))
            if (done._tag === "Success") peer.subscriptions.add(uri)
          }
        })

      const attach = (peer: Peer) => {
        peers.add(peer)
        return () => {
          peers.delete(peer)
          for (const uri of peer.subscriptions) Effect.runFork(Effect.ignore(surface.unsubscribe(uri)) as Effect.Effect<void>)
          peer.subscriptions.clear()
          // the client that wanted the most verbose upstream logs may be this one
          if (peer.logLevel !== undefined && browse(peer)) Effect.runFork(surface.setLogLevel(mostVerbose()))
        }
      }

      const broadcast = (method: string, params: Params, to: (peer: Peer) => boolean = () => true) =>
        Effect.sync(() => {
          for (const peer of peers) if (to(peer)) peer.notify(method, params)
        })

      yield* registry.changes.pipe(Stream.runForEach(() => broadcast("notifications/tools/list_changed", {})), Effect.forkScoped)
      yield* surface.events.pipe(
        Stream.runForEach((event: UpstreamEvent) => {
          switch (event._tag) {
            case "ToolsChanged":
              return Effect.void
            case "ResourcesChanged":
              return broadcast("notifications/resources/list_changed", {}, browse)
            case "PromptsChanged":
              return broadcast("notifications/prompts/list_changed", {}, browse)
            case "ResourceUpdated":
              return broadcast("notifications/resources/updated", { uri: event.uri }, (peer) => peer.subscriptions.has(event.uri))
            case "Log":
              // an upstream's log outside any call: to clients that asked for logs and may browse upstreams
              return broadcast("notifications/message", event.params, (peer) => browse(peer) && peer.wantsLog(event.params.level))
          }
        }),
        Effect.forkScoped
      )

      return McpEngine.of({ handle, negotiate, attach, subscribeAs })
    })
  )
}

/** 2026-07-28 requests carry what the client declares in `_meta` instead of a session. */
const adoptRequestMeta = (peer: Peer, params: Params) => {
  const meta = params._meta as Record<string, unknown> | undefined
  if (meta === undefined) return
  const capabilities = meta["io.modelcontextprotocol/clientCapabilities"]
  if (typeof capabilities === "object" && capabilities !== null) peer.capabilities = capabilities as Params
  const level = logLevels.indexOf(meta["io.modelcontextprotocol/logLevel"] as never)
  if (level !== -1) peer.logLevel = level
}

/** 2026-07-28 results a client may cache: lists differ per key and change, so private and never reused. */
const cacheable = new Set(["server/discover", "tools/list", "resources/list", "resources/templates/list", "prompts/list"])

/** 2026-07-28 results say they are complete (not waiting for input) and name the server in their `_meta`. */
const sessionlessResult = (method: string, result: unknown) => {
  if (typeof result !== "object" || result === null) return result
  const meta = (result as { _meta?: Record<string, unknown> })._meta
  return {
    resultType: "complete",
    ...(cacheable.has(method) ? { ttlMs: 0, cacheScope: "private" } : {}),
    ...result,
    _meta: { ...meta, "io.modelcontextprotocol/serverInfo": serverInfo }
  }
}

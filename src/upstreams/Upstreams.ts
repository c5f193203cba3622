/**
 * The upstream MCP servers: each enabled upstream is kept connected by its own fiber and Scope. Its tools
 * join the ToolRegistry while it is up and leave when it goes down; its resources, resource templates
 * and prompts are offered through `surface`. A dead or silent upstream is reconnected with exponential
 * backoff and jitter. What an upstream says changed (list_changed) is read again at once; a periodic
 * health check (tools/list) finds silent changes and silent upstreams. Start-up never waits for an
 * upstream, and configuration changes (upstreams added, removed, changed, enabled, disabled) are
 * applied as they come.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import { AppConfig } from "../config/AppConfig.ts"
import { CallContext } from "../mcp/CallContext.ts"
import type { UpstreamConfig } from "../config/schema.ts"
import { upstreamUp } from "../observability/instruments.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import {
  buildOffering,
  emptyLists,
  emptyOffering,
  exposeUri,
  type Json,
  listAll,
  type Offering,
  parseExposedUri,
  prefixOf,
  type UpstreamLists
} from "./catalog.ts"
import type { UpstreamConnection } from "./connect.ts"
import { type UpstreamEvent, UpstreamRequestFailed, type UpstreamSurface } from "./surface.ts"
import { toToolDefinitions } from "./upstreamTools.ts"

export interface UpstreamStatus {
  readonly name: string
  readonly state: "connecting" | "up" | "down" | "disabled"
  readonly transport: "stdio" | "http"
  readonly required: boolean
  readonly tools: ReadonlyArray<string>
  /** Why it is down; while it is up, what of it is not offered (names another source already has), else null. */
  readonly lastError: string | null
  readonly latencyMs: number | null
  readonly connectedAt: string | null
  readonly reconnectAttempts: number
}

const maxBackoff = Duration.seconds(30)
/** Events waiting for a slow reader at most; past it the oldest are dropped. */
const maxPendingEvents = 1024
/** Resource URIs subscribed to at once at most, all clients together. */
const maxSubscriptions = 10_000

/** 500 ms, 1 s, 2 s, ... capped at 30 s, each with up to 50 % random jitter so upstreams do not retry in step. */
export const backoffDelay = (attempt: number) =>
  Duration.millis(Math.min(Duration.toMillis(maxBackoff), 500 * 2 ** Math.min(attempt, 10)) * (1 + Math.random() * 0.5))

const invalidParams = (message: string) => new UpstreamRequestFailed({ code: -32602, message })

/** The first failure's message of a session that ended. */
const reasonOf = (cause: Cause.Cause<unknown>) => {
  for (const reason of cause.reasons) {
    if (Cause.isFailReason(reason)) return String((reason.error as { readonly message?: unknown })?.message ?? reason.error)
    if (Cause.isDieReason(reason)) return `the connection failed unexpectedly: ${String((reason.defect as { readonly message?: unknown })?.message ?? reason.defect)}`
  }
  return Cause.pretty(cause)
}

/** A request's params without `_meta`: the client's progress token and metadata are not the upstream's. */
const withoutMeta = (params: Json): Record<string, unknown> => {
  const { _meta: _ignored, ...rest } = params
  return rest
}

interface Live {
  readonly config: UpstreamConfig
  readonly connection: UpstreamConnection
  lists: UpstreamLists
}

interface ToolScope {
  readonly scope: Scope.Closeable
  /** The listing and the names given: the same again leaves the registered tools as they are. */
  readonly key: string
}

export class Upstreams extends Context.Service<Upstreams, {
  readonly statuses: () => ReadonlyArray<UpstreamStatus>
  /** Required upstreams that are down: the reasons the router is not ready. */
  readonly unready: () => ReadonlyArray<string>
  /** Resources, templates and prompts of the upstreams, the requests that go to them, and their events. */
  readonly surface: UpstreamSurface
}>()("mcp-router/upstreams/Upstreams") {
  static readonly layer = Layer.effect(
    Upstreams,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const registry = yield* ToolRegistry
      const statuses = new Map<string, UpstreamStatus>()
      const running = new Map<string, { readonly key: string; readonly fiber: Fiber.Fiber<unknown> }>()
      const layerScope = yield* Effect.scope
      const events = yield* PubSub.sliding<UpstreamEvent>(maxPendingEvents)
      const emit = (event: UpstreamEvent) => void PubSub.publishUnsafe(events, event)

      /** Upstreams that are up, with what they list. */
      const live = new Map<string, Live>()
      let offering: Offering = emptyOffering
      /** Exposed tool name → the upstream whose tool it is. */
      const toolOwners = new Map<string, string>()
      const toolProblems = new Map<string, ReadonlyArray<string>>()
      const reportedProblems = new Map<string, string>()
      // tools of two upstreams are named one after the other, so a name is never given twice
      const toolLock = yield* Semaphore.make(1)
      const subscriptionLock = yield* Semaphore.make(1)
      /** Exposed URI → how many subscriptions the engine holds on it, and where it goes. */
      const subscriptions = new Map<string, { count: number; readonly upstream: string; readonly uri: string }>()
      let logLevel: string | undefined

      const set = (name: string, change: Partial<UpstreamStatus>) => {
        const current = statuses.get(name)
        if (current !== undefined) statuses.set(name, { ...current, ...change })
      }
      const gauge = (name: string, up: boolean) => Metric.update(Metric.withAttributes(upstreamUp, { upstream: name }), up ? 1 : 0)

      /** lastError of an upstream that is up: what of it is not offered; said once in the log when it changes. */
      const reportProblems = (name: string) =>
        Effect.suspend(() => {
          if (!live.has(name)) return Effect.void
          const text = [...(toolProblems.get(name) ?? []), ...(offering.problems.get(name) ?? [])].join("; ")
          set(name, { lastError: text === "" ? null : text })
          if ((reportedProblems.get(name) ?? "") === text) return Effect.void
          reportedProblems.set(name, text)
          return text === "" ? Effect.void : Effect.logWarning(`Upstream ${name}: ${text}`)
        })

      /** What the upstreams that are up offer together, again; events for what changed. */
      const rebuildOffering = Effect.suspend(() => {
        const order = new Map(config.current().upstreams.map((u, i) => [u.name, i]))
        const entries = Array.from(live.values()).sort((a, b) => (order.get(a.config.name) ?? 0) - (order.get(b.config.name) ?? 0))
        const before = offering
        offering = buildOffering(entries.map((e) => ({ config: e.config, lists: e.lists })))
        const exposed = (items: ReadonlyArray<{ readonly exposed: Json }>) => JSON.stringify(items.map((i) => i.exposed))
        if (exposed(before.resources) !== exposed(offering.resources) || exposed(before.resourceTemplates) !== exposed(offering.resourceTemplates)) {
          emit({ _tag: "ResourcesChanged" })
        }
        if (exposed(before.prompts) !== exposed(offering.prompts)) emit({ _tag: "PromptsChanged" })
        return Effect.forEach(entries, (e) => reportProblems(e.config.name), { discard: true })
      })

      const listTimeout = (upstream: UpstreamConfig) => Math.min(upstream.healthCheckMs, 10_000)

      /**
       * Registers the upstream's tools in a scope of their own, so a refresh swaps them without
       * reconnecting; an unchanged list under unchanged names is left as it is, so its tools never blink out.
       */
      const publishTools = (upstream: UpstreamConfig, connection: UpstreamConnection, previous: ToolScope | undefined) =>
        Effect.gen(function*() {
          const started = performance.now()
          const tools = yield* listAll(connection, "tools/list", "tools", "name", listTimeout(upstream))
          const latencyMs = Math.round(performance.now() - started)
          return yield* Semaphore.withPermits(toolLock, 1)(Effect.gen(function*() {
            const taken = new Map<string, string>()
            for (const tool of registry.all()) {
              const owner = toolOwners.get(tool.name)
              if (owner !== upstream.name) taken.set(tool.name, owner === undefined ? "the router's built-in tool" : `upstream "${owner}"`)
            }
            const offered = toToolDefinitions(upstream, connection, tools, taken)
            const key = JSON.stringify([tools, offered.definitions.map((d) => d.name)])
            toolProblems.set(upstream.name, offered.problems)
            if (previous?.key === key) {
              set(upstream.name, { latencyMs })
              return previous
            }
            if (previous !== undefined) yield* Scope.close(previous.scope, Exit.void)
            const scope = yield* Scope.make()
            yield* registry.register(offered.definitions).pipe(Scope.provide(scope))
            for (const d of offered.definitions) toolOwners.set(d.name, upstream.name)
            yield* Scope.addFinalizer(scope, Effect.sync(() => {
              for (const d of offered.definitions) if (toolOwners.get(d.name) === upstream.name) toolOwners.delete(d.name)
            }))
            set(upstream.name, { tools: offered.definitions.map((d) => d.name), latencyMs })
            emit({ _tag: "ToolsChanged" })
            return { scope, key }
          }))
        })

      /** Reads the upstream's resources, templates and/or prompts again (each only if it declares them). */
      const refreshLists = (entry: Live, which: { readonly resources: boolean; readonly prompts: boolean }) =>
        Effect.gen(function*() {
          const { config: upstream, connection } = entry
          const capabilities = connection.capabilities
          const read = (declared: unknown, method: string, key: string, field: string, previous: ReadonlyArray<Json>) =>
            declared === undefined
              ? Effect.succeed<ReadonlyArray<Json>>([])
              : listAll(connection, method, key, field, listTimeout(upstream)).pipe(
                Effect.catch((error) =>
                  // a server of an MCP version without templates has none
                  error._tag === "UpstreamRequestError" && error.kind === "answered" && error.code === -32601
                    ? Effect.succeed<ReadonlyArray<Json>>([])
                    : Effect.logWarning(`Upstream ${upstream.name}: ${method} failed, its previous list is kept: ${error.message}`).pipe(Effect.as(previous))
                )
              )
          const [resources, resourceTemplates] = which.resources
            ? yield* Effect.all([
              read(capabilities.resources, "resources/list", "resources", "uri", entry.lists.resources),
              read(capabilities.resources, "resources/templates/list", "resourceTemplates", "uriTemplate", entry.lists.resourceTemplates)
            ], { concurrency: 2 })
            : [entry.lists.resources, entry.lists.resourceTemplates]
          const prompts = which.prompts ? yield* read(capabilities.prompts, "prompts/list", "prompts", "name", entry.lists.prompts) : entry.lists.prompts
          entry.lists = { resources, resourceTemplates, prompts }
          if (live.get(upstream.name) === entry) yield* rebuildOffering
        })

      /** Subscriptions and the log level the engine asked for, given again to an upstream that (re)connected. */
      const restore = (entry: Live) =>
        Effect.gen(function*() {
          const { config: upstream, connection } = entry
          const capabilities = connection.capabilities as { readonly resources?: { readonly subscribe?: unknown }; readonly logging?: unknown }
          if (capabilities.resources?.subscribe === true) {
            for (const [exposed, subscription] of subscriptions) {
              if (subscription.upstream !== upstream.name) continue
              yield* connection.request("resources/subscribe", { uri: subscription.uri }, { timeoutMs: upstream.timeoutMs }).pipe(
                Effect.catch((error) => Effect.logWarning(`Upstream ${upstream.name}: the subscription to ${exposed} was not renewed: ${error.message}`))
              )
            }
          }
          if (logLevel !== undefined && capabilities.logging !== undefined) {
            yield* connection.request("logging/setLevel", { level: logLevel }, { timeoutMs: upstream.timeoutMs }).pipe(
              Effect.catch((error) => Effect.logWarning(`Upstream ${upstream.name}: logging/setLevel failed: ${error.message}`))
            )
          }
        })

      /** One connection: up until it fails, read again on list_changed, checked every healthCheckMs. */
      const session = (upstream: UpstreamConfig, onUp: () => void) =>
        Effect.scoped(Effect.gen(function*() {
          // the MCP SDK client is loaded when the first upstream connects: a router without upstreams never loads it
          const { connect, UpstreamUnavailable } = yield* Effect.promise(() => import("./connect.ts"))
          const connection = yield* connect(upstream, config.current().tools.workingDir, {
            resourceUpdated: (uri) => emit({ _tag: "ResourceUpdated", uri: exposeUri(upstream, uri) }),
            log: (params) => emit({ _tag: "Log", upstream: upstream.name, params })
          })
          let tools = yield* publishTools(upstream, connection, undefined)
          const entry: Live = { config: upstream, connection, lists: emptyLists }
          live.set(upstream.name, entry)
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              yield* Semaphore.withPermits(toolLock, 1)(Scope.close(tools.scope, Exit.void))
              live.delete(upstream.name)
              toolProblems.delete(upstream.name)
              reportedProblems.delete(upstream.name)
              emit({ _tag: "ToolsChanged" })
              // names it had may be free now for an unprefixed upstream that was refused them
              for (const other of live.values()) {
                if ((toolProblems.get(other.config.name) ?? []).length > 0) other.connection.remind("tools")
              }
              yield* rebuildOffering
            })
          )
          yield* refreshLists(entry, { resources: true, prompts: true })
          set(upstream.name, { state: "up", connectedAt: new Date().toISOString(), reconnectAttempts: 0 })
          yield* reportProblems(upstream.name)
          onUp()
          yield* gauge(upstream.name, true)
          yield* Effect.logInfo(`Upstream ${upstream.name} is up`, { tools: statuses.get(upstream.name)?.tools.length })
          yield* restore(entry)
          const capabilities = connection.capabilities as { readonly resources?: { readonly listChanged?: unknown }; readonly prompts?: { readonly listChanged?: unknown } }
          let lastCheck = performance.now()
          for (;;) {
            const wait = upstream.healthCheckMs - (performance.now() - lastCheck)
            const signals = wait <= 0 ? Option.none() : yield* connection.signals.pipe(Effect.timeoutOption(Duration.millis(wait)))
            if (Option.isSome(signals) && signals.value.has("closed")) return yield* new UpstreamUnavailable({ message: connection.closedReason() })
            if (Option.isNone(signals)) {
              // the health check: tools/list, which also finds changed tools; any failure ends the session.
              // Lists the upstream does not say it announces changes of are read again too.
              lastCheck = performance.now()
              tools = yield* publishTools(upstream, connection, tools)
              yield* reportProblems(upstream.name)
              const resources = capabilities.resources !== undefined && capabilities.resources.listChanged !== true
              const prompts = capabilities.prompts !== undefined && capabilities.prompts.listChanged !== true
              if (resources || prompts) yield* refreshLists(entry, { resources, prompts })
              continue
            }
            if (signals.value.has("tools")) {
              tools = yield* publishTools(upstream, connection, tools)
              yield* reportProblems(upstream.name)
            }
            if (signals.value.has("resources") || signals.value.has("prompts")) {
              yield* refreshLists(entry, { resources: signals.value.has("resources"), prompts: signals.value.has("prompts") })
            }
          }
        }))

      const supervise = (upstream: UpstreamConfig) =>
        Effect.gen(function*() {
          let attempt = 0
          for (;;) {
            const exit = yield* Effect.exit(session(upstream, () => void (attempt = 0)))
            const reason = exit._tag === "Failure" ? reasonOf(exit.cause) : "ended"
            attempt++
            set(upstream.name, { state: "down", lastError: reason, reconnectAttempts: attempt, tools: [], latencyMs: null })
            yield* gauge(upstream.name, false)
            yield* Effect.logWarning(`Upstream ${upstream.name} is down: ${reason}; reconnecting`, { attempt })
            yield* Effect.sleep(backoffDelay(attempt))
            set(upstream.name, { state: "connecting" })
          }
        })

      /** Starts, stops and restarts supervisors so they match the configured upstreams. */
      const reconcile = (upstreams: ReadonlyArray<UpstreamConfig>) =>
        Effect.gen(function*() {
          const wanted = new Map(upstreams.map((u) => [u.name, u]))
          for (const [name, entry] of running) {
            const next = wanted.get(name)
            if (next === undefined || !next.enabled || JSON.stringify(next) !== entry.key) {
              running.delete(name)
              yield* Fiber.interrupt(entry.fiber)
              yield* gauge(name, false)
              if (next === undefined) statuses.delete(name)
            }
          }
          for (const upstream of upstreams) {
            const base = { name: upstream.name, transport: upstream.transport.type, required: upstream.required, tools: [], lastError: null, latencyMs: null, connectedAt: null, reconnectAttempts: 0 }
            if (!upstream.enabled) {
              statuses.set(upstream.name, { ...base, state: "disabled" })
              continue
            }
            if (running.has(upstream.name)) continue
            statuses.set(upstream.name, { ...base, state: "connecting" })
            const fiber = yield* Effect.forkIn(supervise(upstream), layerScope)
            running.set(upstream.name, { key: JSON.stringify(upstream), fiber })
          }
          // configuration order decides who keeps a contested name
          yield* rebuildOffering
        })

      yield* config.changes.pipe(
        Stream.map((c) => c.upstreams),
        Stream.changesWith((a, b) => JSON.stringify(a) === JSON.stringify(b)),
        Stream.runForEach(reconcile),
        Effect.forkScoped
      )

      // ---- the surface: requests routed to the upstream that owns the name or URI ----

      /** The upstream that is up and owns an exposed resource URI, and the URI as it knows it. */
      const resolveUri = (uri: string): { readonly entry: Live; readonly uri: string } | undefined => {
        const listed = offering.resourceByUri.get(uri)
        const listedOwner = listed === undefined ? undefined : live.get(listed.upstream)
        if (listed !== undefined && listedOwner !== undefined) return { entry: listedOwner, uri: listed.original.uri as string }
        const parsed = parseExposedUri(uri)
        const named = parsed === undefined ? undefined : live.get(parsed.upstream)
        if (parsed !== undefined && named !== undefined && prefixOf(named.config) !== "") return { entry: named, uri: parsed.uri }
        const unprefixed = Array.from(live.values()).filter((e) => prefixOf(e.config) === "")
        for (const template of offering.resourceTemplates) {
          const owner = live.get(template.upstream)
          if (owner !== undefined && prefixOf(owner.config) === "" && template.matcher?.match(uri) != null) return { entry: owner, uri }
        }
        return unprefixed.length === 1 ? { entry: unprefixed[0]!, uri } : undefined
      }

      const notOffered = (what: string) => invalidParams(`${what} is not offered now: no upstream that is up offers it`)

      /**
       * A request of the engine's to an upstream. It counts as a call in flight, of the engine's CallContext
       * if it provides one: what the upstream asks meanwhile is never relayed to another session's client.
       */
      const ask = (entry: Live, method: string, params: Json) =>
        Effect.gen(function*() {
          yield* entry.connection.relay.track(yield* Effect.serviceOption(CallContext))
          return yield* entry.connection.request(method, params, { timeoutMs: entry.config.timeoutMs, timeoutSetting: "upstreams[].timeoutMs" })
        }).pipe(Effect.scoped, Effect.mapError((error) => error.toSurface()))

      const uriParam = (params: Json, method: string) =>
        typeof params.uri === "string" ? Effect.succeed(params.uri) : Effect.fail(invalidParams(`${method} needs a "uri" string`))

      const readResource = (params: Json) =>
        Effect.gen(function*() {
          const uri = yield* uriParam(params, "resources/read")
          const target = resolveUri(uri)
          if (target === undefined) return yield* notOffered(`resource "${uri}"`)
          const result = yield* ask(target.entry, "resources/read", { ...withoutMeta(params), uri: target.uri })
          const contents = Array.isArray(result.contents) ? result.contents : []
          return {
            ...result,
            contents: contents.map((content: unknown) => {
              if (typeof content !== "object" || content === null || typeof (content as Json).uri !== "string") return content
              const own = (content as Json).uri as string
              // the URI asked for, as the client wrote it; others as the router exposes them
              return { ...content, uri: own === target.uri ? uri : exposeUri(target.entry.config, own) }
            })
          } as Json
        })

      const getPrompt = (params: Json) =>
        Effect.gen(function*() {
          const name = params.name
          if (typeof name !== "string") return yield* invalidParams(`prompts/get needs a "name" string`)
          const offered = offering.promptByName.get(name)
          const entry = offered === undefined ? undefined : live.get(offered.upstream)
          if (offered === undefined || entry === undefined) return yield* notOffered(`prompt "${name}"`)
          return yield* ask(entry, "prompts/get", { ...withoutMeta(params), name: offered.original.name })
        })

      const complete = (params: Json) =>
        Effect.gen(function*() {
          const ref = params.ref as Json | undefined
          let target: { readonly entry: Live; readonly ref: Json } | undefined
          if (ref?.type === "ref/prompt" && typeof ref.name === "string") {
            const offered = offering.promptByName.get(ref.name)
            const entry = offered === undefined ? undefined : live.get(offered.upstream)
            if (offered === undefined || entry === undefined) return yield* notOffered(`prompt "${ref.name}"`)
            target = { entry, ref: { ...ref, name: offered.original.name } }
          } else if (ref?.type === "ref/resource" && typeof ref.uri === "string") {
            const template = offering.templateByUri.get(ref.uri)
            const owner = template === undefined ? undefined : live.get(template.upstream)
            if (template !== undefined && owner !== undefined) {
              target = { entry: owner, ref: { ...ref, uri: template.original.uriTemplate } }
            } else {
              const resolved = resolveUri(ref.uri)
              if (resolved === undefined) return yield* notOffered(`resource or resource template "${ref.uri}"`)
              target = { entry: resolved.entry, ref: { ...ref, uri: resolved.uri } }
            }
          } else {
            return yield* invalidParams(`completion/complete needs a ref of type "ref/prompt" (with a name) or "ref/resource" (with a uri)`)
          }
          // an upstream that offers no completions has none to give
          if (target.entry.connection.capabilities.completions === undefined) return { completion: { values: [], hasMore: false } } as Json
          return yield* ask(target.entry, "completion/complete", { ...withoutMeta(params), ref: target.ref })
        })

      const subscribe = (uri: string) =>
        Semaphore.withPermits(subscriptionLock, 1)(Effect.gen(function*() {
          const existing = subscriptions.get(uri)
          if (existing !== undefined) {
            existing.count++
            return
          }
          const target = resolveUri(uri)
          if (target === undefined) return yield* notOffered(`resource "${uri}"`)
          const resources = target.entry.connection.capabilities.resources as { readonly subscribe?: unknown } | undefined
          if (resources?.subscribe !== true) {
            return yield* new UpstreamRequestFailed({
              code: -32601,
              message: `resource "${uri}" cannot be subscribed to: upstream "${target.entry.config.name}" does not offer subscriptions (resources.subscribe)`
            })
          }
          if (subscriptions.size >= maxSubscriptions) {
            return yield* new UpstreamRequestFailed({ code: -32600, message: `resource "${uri}" cannot be subscribed to: ${maxSubscriptions} resources are subscribed to already` })
          }
          yield* ask(target.entry, "resources/subscribe", { uri: target.uri })
          subscriptions.set(uri, { count: 1, upstream: target.entry.config.name, uri: target.uri })
        }))

      const unsubscribe = (uri: string) =>
        Semaphore.withPermits(subscriptionLock, 1)(Effect.gen(function*() {
          const existing = subscriptions.get(uri)
          if (existing === undefined) return
          existing.count--
          if (existing.count > 0) return
          subscriptions.delete(uri)
          const entry = live.get(existing.upstream)
          if (entry === undefined) return
          yield* ask(entry, "resources/unsubscribe", { uri: existing.uri })
        }))

      const setLogLevel = (level: string) =>
        Effect.suspend(() => {
          logLevel = level
          return Effect.forEach(
            Array.from(live.values()).filter((e) => e.connection.capabilities.logging !== undefined),
            (entry) =>
              ask(entry, "logging/setLevel", { level }).pipe(
                Effect.catch((error) => Effect.logWarning(`Upstream ${entry.config.name}: logging/setLevel failed: ${error.message}`))
              ),
            { concurrency: "unbounded", discard: true }
          )
        })

      const surface: UpstreamSurface = {
        resources: () => offering.resources.map((r) => r.exposed),
        resourceTemplates: () => offering.resourceTemplates.map((t) => t.exposed),
        prompts: () => offering.prompts.map((p) => p.exposed),
        readResource,
        getPrompt,
        complete,
        subscribe,
        unsubscribe,
        setLogLevel,
        events: Stream.fromPubSub(events)
      }

      return Upstreams.of({
        statuses: () => Array.from(statuses.values()),
        unready: () =>
          Array.from(statuses.values())
            .filter((s) => s.required && s.state !== "up")
            .map((s) => `required upstream ${s.name} is ${s.state}${s.lastError ? `: ${s.lastError}` : ""}`),
        surface
      })
    })
  )
}

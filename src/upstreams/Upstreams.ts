/**
 * The upstream MCP servers: each enabled upstream is kept connected by its own fiber and Scope. Its tools
 * join the ToolRegistry while it is up and leave when it goes down; a dead or silent upstream is
 * reconnected with exponential backoff and jitter. Start-up never waits for an upstream, and
 * configuration changes (upstreams added, removed, changed, enabled, disabled) are applied as they come.
 */
import { Context, Duration, Effect, Exit, Fiber, Layer, Metric, PubSub, Queue, Scope, Stream } from "effect"
import type { McpClient } from "effect/ai"
import { AppConfig } from "../config/AppConfig.ts"
import type { UpstreamConfig } from "../config/schema.ts"
import { upstreamUp } from "../observability/instruments.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import { fetchCatalog, type UpstreamCatalog } from "./catalog.ts"
import { connect, type UpstreamSignal } from "./connect.ts"
import { toToolDefinitions } from "./upstreamTools.ts"

export interface UpstreamStatus {
  readonly name: string
  readonly state: "connecting" | "up" | "down" | "disabled"
  readonly transport: "stdio" | "http"
  readonly required: boolean
  readonly tools: ReadonlyArray<string>
  readonly lastError: string | null
  readonly latencyMs: number | null
  readonly connectedAt: string | null
  readonly reconnectAttempts: number
}

const maxBackoff = Duration.seconds(30)

/** 500 ms, 1 s, 2 s, ... capped at 30 s, each with up to 50 % random jitter so upstreams do not retry in step. */
export const backoffDelay = (attempt: number) =>
  Duration.millis(Math.min(Duration.toMillis(maxBackoff), 500 * 2 ** Math.min(attempt, 10)) * (1 + Math.random() * 0.5))

export class Upstreams extends Context.Service<Upstreams, {
  readonly statuses: () => ReadonlyArray<UpstreamStatus>
  /** Resources and prompts of the upstreams that are up, namespaced. */
  readonly catalog: () => UpstreamCatalog
  /** Signals each change of the catalog. */
  readonly catalogChanges: Stream.Stream<void>
  /** Required upstreams that are down: the reasons the router is not ready. */
  readonly unready: () => ReadonlyArray<string>
}>()("mcp-router/upstreams/Upstreams") {
  static readonly layer = Layer.effect(
    Upstreams,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const registry = yield* ToolRegistry
      const statuses = new Map<string, UpstreamStatus>()
      const catalogs = new Map<string, UpstreamCatalog>()
      const catalogChanged = yield* PubSub.unbounded<void>()
      const setCatalog = (name: string, catalog: UpstreamCatalog | undefined) =>
        Effect.suspend(() => {
          if (catalog === undefined) catalogs.delete(name)
          else catalogs.set(name, catalog)
          return PubSub.publish(catalogChanged, undefined)
        })
      const running = new Map<string, { readonly key: string; readonly fiber: Fiber.Fiber<unknown> }>()
      const layerScope = yield* Effect.scope

      const set = (name: string, change: Partial<UpstreamStatus>) => {
        const current = statuses.get(name)
        if (current !== undefined) statuses.set(name, { ...current, ...change })
      }
      const gauge = (name: string, up: boolean) => Metric.update(Metric.withAttributes(upstreamUp, { upstream: name }), up ? 1 : 0)

      /**
       * Registers the upstream's tools in a scope of their own, so a refresh swaps them without
       * reconnecting; an unchanged list is left as it is, so its tools never blink out.
       */
      const publishTools = (
        upstream: UpstreamConfig,
        client: McpClient.McpClient,
        previous: { readonly scope: Scope.Closeable; readonly listing: string } | undefined
      ) =>
        Effect.gen(function*() {
          const started = performance.now()
          const tools = yield* client.listTools({ timeout: Duration.millis(Math.min(upstream.healthCheckMs, 10_000)) })
          const latencyMs = Math.round(performance.now() - started)
          const listing = JSON.stringify(tools)
          // resources and prompts are read on every check: their own change notifications do not reach us
          yield* setCatalog(upstream.name, yield* fetchCatalog(upstream, client))
          if (previous?.listing === listing) {
            set(upstream.name, { latencyMs })
            return previous
          }
          if (previous !== undefined) yield* Scope.close(previous.scope, Exit.void)
          const taken = new Set(registry.all().map((t) => t.name))
          const definitions = toToolDefinitions(upstream, client, tools, taken)
          const scope = yield* Scope.make()
          yield* registry.register(definitions).pipe(Scope.provide(scope))
          set(upstream.name, { tools: definitions.map((d) => d.name), latencyMs })
          return { scope, listing }
        })

      /** One connection: up until it fails, checked every healthCheckMs and on list_changed. */
      const session = (upstream: UpstreamConfig, onUp: () => void) =>
        Effect.scoped(Effect.gen(function*() {
          const { client, signals } = yield* connect(upstream, config.current().tools.workingDir)
          let toolScope = yield* publishTools(upstream, client, undefined)
          yield* Effect.addFinalizer(() => Scope.close(toolScope.scope, Exit.void).pipe(Effect.andThen(setCatalog(upstream.name, undefined))))
          set(upstream.name, { state: "up", lastError: null, connectedAt: new Date().toISOString(), reconnectAttempts: 0 })
          onUp()
          yield* gauge(upstream.name, true)
          yield* Effect.logInfo(`Upstream ${upstream.name} is up`, { tools: statuses.get(upstream.name)?.tools.length })
          for (;;) {
            const signal: UpstreamSignal | "check" = yield* Queue.take(signals).pipe(
              Effect.timeoutOrElse({ duration: Duration.millis(upstream.healthCheckMs), orElse: () => Effect.succeed("check" as const) })
            )
            if (signal === "closed") return yield* Effect.fail(new Error("the upstream process ended"))
            // a health check that also finds changed tools; any failure ends the session
            toolScope = yield* publishTools(upstream, client, toolScope)
          }
        }))

      const supervise = (upstream: UpstreamConfig) =>
        Effect.gen(function*() {
          let attempt = 0
          for (;;) {
            const exit = yield* Effect.exit(session(upstream, () => void (attempt = 0)))
            const reason = exit._tag === "Failure" ? String((exit.cause.reasons[0] as { error?: { message?: string } })?.error?.message ?? exit.cause) : "ended"
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
        })

      yield* config.changes.pipe(
        Stream.map((c) => c.upstreams),
        Stream.changesWith((a, b) => JSON.stringify(a) === JSON.stringify(b)),
        Stream.runForEach(reconcile),
        Effect.forkScoped
      )

      return Upstreams.of({
        statuses: () => Array.from(statuses.values()),
        catalog: () => ({
          resources: Array.from(catalogs.values()).flatMap((c) => c.resources),
          prompts: Array.from(catalogs.values()).flatMap((c) => c.prompts)
        }),
        catalogChanges: Stream.fromPubSub(catalogChanged),
        unready: () =>
          Array.from(statuses.values())
            .filter((s) => s.required && s.state !== "up")
            .map((s) => `required upstream ${s.name} is ${s.state}${s.lastError ? `: ${s.lastError}` : ""}`)
      })
    })
  )
}

/**
 * Helpers of the upstream tests that use the Upstreams service itself (no HTTP, no protocol engine):
 * a runtime with AppConfig, the ToolRegistry and Upstreams, closed after each test, and a client side
 * for calls: a CallContext whose channel records what the router sends its client and answers the
 * router's requests with a function of the test.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect, Fiber, Layer, ManagedRuntime, Option, Stream } from "effect"
import * as path from "node:path"
import { afterEach } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { CallContext, ClientRequestFailed } from "../../src/mcp/CallContext.ts"
import type { ToolDefinition, ToolOutput } from "../../src/tools/ToolDefinition.ts"
import { ToolRegistry } from "../../src/tools/ToolRegistry.ts"
import type { UpstreamEvent } from "../../src/upstreams/surface.ts"
import { Upstreams, type UpstreamStatus } from "../../src/upstreams/Upstreams.ts"
import { makeTempDir } from "../support/server.ts"
import { waitFor } from "./support.ts"

type Json = Readonly<Record<string, unknown>>

const runtimes: Array<ManagedRuntime.ManagedRuntime<any, any>> = []

export const cleanupRuntimesAfterEach = () =>
  afterEach(async () => {
    await Promise.all(runtimes.splice(0).map((r) => r.dispose()))
  })

export interface Router {
  readonly run: <A, E>(effect: Effect.Effect<A, E, Upstreams | ToolRegistry | AppConfig>) => Promise<A>
  readonly upstreams: () => Promise<Upstreams["Service"]>
  readonly status: (name: string) => Promise<UpstreamStatus | undefined>
  /** Waits until `name` is up (and, if given, offers `tool`); its status. */
  readonly whenUp: (name: string, tool?: string) => Promise<UpstreamStatus>
  readonly toolNames: () => Promise<Array<string>>
  readonly tool: (name: string) => Promise<ToolDefinition>
  /** Runs a tool as Router.call would, with the caller's CallContext when given; a ToolFailure rejects with its message. */
  readonly call: (name: string, args?: Record<string, unknown>, context?: CallContext["Service"]) => Promise<ToolOutput>
  /** The same, ended after `ms` (as a timeout or a cancelling client ends it). */
  readonly callInterrupted: (name: string, args: Record<string, unknown>, ms: number) => Promise<void>
  /** Every upstream event from now on. */
  readonly events: () => { readonly seen: Array<UpstreamEvent>; readonly stop: () => void }
  readonly dispose: () => Promise<void>
}

/** The Upstreams service over `upstreams` (config file form), with `builtIns` in the registry first. */
export const makeRouter = async (upstreams: ReadonlyArray<Record<string, unknown>>, builtIns: ReadonlyArray<ToolDefinition> = []): Promise<Router> => {
  const workingDir = makeTempDir()
  const config = AppConfig.layerFromInput({ tools: { workingDir }, storage: { dataDir: path.join(workingDir, ".data") }, upstreams }, workingDir)
  const registry = ToolRegistry.layer
  const withBuiltIns = builtIns.length === 0
    ? registry
    : Layer.provideMerge(ToolRegistry.provide(Effect.succeed(builtIns)), registry)
  const layer = Upstreams.layer.pipe(Layer.provideMerge(withBuiltIns), Layer.provideMerge(config), Layer.provide(NodeServices.layer))
  const runtime = ManagedRuntime.make(layer)
  runtimes.push(runtime)
  const run = <A, E>(effect: Effect.Effect<A, E, Upstreams | ToolRegistry | AppConfig>) => runtime.runPromise(effect)
  const status = (name: string) => run(Upstreams.use((u) => Effect.succeed(u.statuses().find((s) => s.name === name))))
  const toolNames = () => run(ToolRegistry.use((r) => Effect.succeed(r.all().map((t) => t.name))))
  return {
    run,
    upstreams: () => run(Effect.gen(function*() {
      return yield* Upstreams
    })),
    status,
    whenUp: (name, tool) =>
      waitFor(`upstream ${name} up${tool === undefined ? "" : ` with ${tool}`}`, async () => {
        const s = await status(name)
        return s?.state === "up" && (tool === undefined || s.tools.includes(tool)) ? s : undefined
      }),
    toolNames,
    tool: async (name) => {
      const found = await run(ToolRegistry.use((r) => Effect.succeed(r.find(name))))
      if (found === undefined) throw new Error(`no tool ${name}`)
      return found
    },
    call: async (name, args = {}, context) => {
      const tool = await run(ToolRegistry.use((r) => Effect.succeed(r.find(name))))
      if (tool === undefined) throw new Error(`no tool ${name}`)
      const effect = tool.decode(args).pipe(
        Effect.flatMap((input) => tool.run(input)),
        Effect.mapError((error) => new Error(error.message))
      )
      return run(context === undefined ? effect : Effect.provideService(effect, CallContext, context))
    },
    callInterrupted: async (name, args, ms) => {
      const tool = await run(ToolRegistry.use((r) => Effect.succeed(r.find(name))))
      if (tool === undefined) throw new Error(`no tool ${name}`)
      await run(tool.run(args).pipe(Effect.timeoutOption(ms), Effect.ignore))
    },
    events: () => {
      const seen: Array<UpstreamEvent> = []
      const fiber = runtime.runFork(Upstreams.use((u) => u.surface.events.pipe(Stream.runForEach((e) => Effect.sync(() => seen.push(e))))))
      return { seen, stop: () => void runtime.runFork(Fiber.interrupt(fiber)) }
    },
    dispose: () => runtime.dispose()
  }
}

/** What the router sent a client: notifications and requests, in order. */
export interface ClientRecord {
  readonly notifications: Array<{ readonly method: string; readonly params: Json }>
  readonly requests: Array<{ readonly method: string; readonly params: Json }>
}

/**
 * A client side of calls: `capabilities` as its initialize declared them, requests answered by `answer`
 * (a thrown `{ code, message, data }` is its JSON-RPC error).
 */
export const clientSide = (options: {
  readonly sessionKey?: string
  readonly capabilities?: Json
  readonly progressToken?: string | number
  readonly answer?: (method: string, params: Json) => unknown | Promise<unknown>
} = {}): { readonly context: CallContext["Service"]; readonly record: ClientRecord } => {
  const record: ClientRecord = { notifications: [], requests: [] }
  const context = CallContext.of({
    progressToken: options.progressToken,
    client: {
      capabilities: options.capabilities ?? {},
      sessionKey: options.sessionKey ?? "session-1",
      notify: (method, params) => Effect.sync(() => void record.notifications.push({ method, params })),
      request: (method, params) =>
        Effect.tryPromise({
          try: async () => {
            record.requests.push({ method, params })
            if (options.answer === undefined) throw { code: -32601, message: `the test client does not answer ${method}` }
            return await options.answer(method, params)
          },
          catch: (error) => {
            const e = error as { code?: number; message?: string; data?: unknown }
            return new ClientRequestFailed({ code: e.code ?? -32603, message: e.message ?? String(error), ...(e.data === undefined ? {} : { data: e.data }) })
          }
        })
    }
  })
  return { context, record }
}

export const optionValue = <A>(option: Option.Option<A>) => Option.getOrUndefined(option)

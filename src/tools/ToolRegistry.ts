/**
 * The tools the router offers. Tool families (and library users) add theirs with `ToolRegistry.provide`,
 * a Layer; a tool leaves the registry when the scope that added it closes.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { ToolDefinition } from "./ToolDefinition.ts"

export class ToolRegistry extends Context.Service<ToolRegistry, {
  /** All registered tools, in registration order. */
  readonly all: () => ReadonlyArray<ToolDefinition>
  readonly find: (name: string) => ToolDefinition | undefined
  /** Adds tools for the life of the current scope; a name already taken is a defect. */
  readonly register: (tools: ReadonlyArray<ToolDefinition>) => Effect.Effect<void, never, Scope.Scope>
  /** Signals every change of the tool list. */
  readonly changes: Stream.Stream<void>
}>()("mcp-router/tools/ToolRegistry") {
  static readonly layer = Layer.effect(
    ToolRegistry,
    Effect.gen(function*() {
      const tools = new Map<string, ToolDefinition>()
      const changed = yield* PubSub.unbounded<void>()
      const register = (defs: ReadonlyArray<ToolDefinition>) =>
        Effect.gen(function*() {
          for (const def of defs) {
            if (tools.has(def.name)) return yield* Effect.die(new Error(`Tool "${def.name}" is registered twice`))
          }
          for (const def of defs) tools.set(def.name, def)
          yield* PubSub.publish(changed, undefined)
          yield* Effect.addFinalizer(() =>
            Effect.gen(function*() {
              for (const def of defs) if (tools.get(def.name) === def) tools.delete(def.name)
              yield* PubSub.publish(changed, undefined)
            })
          )
        })
      return ToolRegistry.of({
        all: () => Array.from(tools.values()),
        find: (name) => tools.get(name),
        register,
        changes: Stream.fromPubSub(changed)
      })
    })
  )

  /** A Layer that adds these tools to the registry; built from an Effect so tools can read services. */
  static readonly provide = <E, R>(tools: Effect.Effect<ReadonlyArray<ToolDefinition>, E, R>) =>
    Layer.effectDiscard(Effect.flatMap(tools, (defs) => ToolRegistry.use((registry) => registry.register(defs))))
}

/** The platform's process spawner, captured once so tool handlers need no services of their own. */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"

export class ProcessSpawner extends Context.Service<ProcessSpawner, {
  readonly provide: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, Exclude<R, ChildProcessSpawner.ChildProcessSpawner>>
}>()("mcp-router/tools/ProcessSpawner") {
  static readonly layer = Layer.effect(
    ProcessSpawner,
    Effect.gen(function*() {
      const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
      return ProcessSpawner.of({ provide: (effect) => Effect.provideService(effect, ChildProcessSpawner.ChildProcessSpawner, spawner) })
    })
  )
}

/**
 * Calls running at once per tool family (tools.concurrency) with a bounded wait: a call past both bounds
 * fails at once with ToolBusy rather than piling up. Bounds are read at each call, so a configuration
 * change applies to the next one.
 */
import * as Effect from "effect/Effect"
import type { ToolFamily } from "../tools/ToolDefinition.ts"
import { ToolBusy } from "./RouterErrors.ts"

export interface FamilyBounds {
  readonly running: number
  readonly queued: number
}

interface FamilyState {
  running: number
  readonly waiting: Set<() => void>
}

export const makeFamilyLimits = (bounds: (family: ToolFamily) => FamilyBounds) => {
  const states = new Map<ToolFamily, FamilyState>()
  const stateOf = (family: ToolFamily) => {
    let state = states.get(family)
    if (state === undefined) states.set(family, state = { running: 0, waiting: new Set() })
    return state
  }

  const release = (state: FamilyState, family: ToolFamily) => {
    const next = state.running <= bounds(family).running ? state.waiting.values().next() : undefined
    if (next !== undefined && !next.done) {
      // the slot passes to the oldest waiter: running stays the same
      state.waiting.delete(next.value)
      next.value()
    } else {
      state.running--
    }
  }

  const acquire = (family: ToolFamily) =>
    Effect.suspend((): Effect.Effect<void, ToolBusy> => {
      const state = stateOf(family)
      const { running, queued } = bounds(family)
      if (state.running < running) {
        state.running++
        return Effect.void
      }
      if (state.waiting.size >= queued) return Effect.fail(new ToolBusy({ family, running, queued }))
      return Effect.callback<void>((resume) => {
        const wake = () => resume(Effect.void)
        state.waiting.add(wake)
        // a waiter that gives up (its request ended) leaves the queue
        return Effect.sync(() => {
          state.waiting.delete(wake)
        })
      })
    })

  return {
    /** Runs `effect` within its family's bounds; tools without a family run at once. */
    run: <A, E, R>(family: ToolFamily | undefined, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E | ToolBusy, R> =>
      family === undefined
        ? effect
        : Effect.acquireUseRelease(acquire(family), () => effect, () => Effect.sync(() => release(stateOf(family), family))),
    /** Calls running and waiting now, per family. */
    snapshot: () => Object.fromEntries([...states].map(([family, state]) => [family, { running: state.running, waiting: state.waiting.size }]))
  }
}

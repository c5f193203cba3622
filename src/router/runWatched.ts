/**
 * An effect run in one child fiber, ended by the first of: its own end, a timeout, or a stop signal.
 * Each request runs under such limits (server.timeout, its key's revocation, tools.timeout); with
 * Effect.timeoutOrElse and Effect.raceFirst each limit forks two fibers, here all of them share one fiber
 * and a timer (a timeout is wall-clock time, so a plain timer).
 */
import * as Effect from "effect/Effect"

export interface Watch<A> {
  /** Ends the effect after `ms` milliseconds, answering `answer()`. */
  readonly timeout?: { readonly ms: number; readonly answer: () => A } | undefined
  /** Called once at the start with `stop`, which ends the effect with the answer given; returns its cleanup. */
  readonly stopWhen?: ((stop: (answer: A) => void) => () => void) | undefined
}

/**
 * Runs `effect` until it ends, or until the watch ends it first: the answer is then returned at once and
 * the effect is interrupted (its finalizers run on), as Effect.raceFirst leaves a loser.
 */
export const runWatched = <A, E, R>(effect: Effect.Effect<A, E, R>, watch: Watch<A>): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.forkChild(effect, { startImmediately: true }), (fiber) =>
    Effect.callback<A, E>((resume) => {
      let done = false
      let timer: ReturnType<typeof setTimeout> | undefined
      let unwatch: (() => void) | undefined
      const settle = () => {
        done = true
        if (timer !== undefined) clearTimeout(timer)
        unwatch?.()
      }
      const stop = (answer: A) => {
        if (done) return
        settle()
        fiber.interruptUnsafe()
        resume(Effect.succeed(answer))
      }
      const unobserve = fiber.addObserver((exit) => {
        if (done) return
        settle()
        resume(exit)
      })
      if (!done && watch.timeout !== undefined) {
        const { ms, answer } = watch.timeout
        timer = setTimeout(() => stop(answer()), ms)
      }
      if (!done && watch.stopWhen !== undefined) {
        const cleanup = watch.stopWhen(stop)
        // stopped already while registering
        if (done) cleanup()
        else unwatch = cleanup
      }
      // the caller interrupted: the effect is interrupted with it
      return Effect.sync(() => {
        if (!done) settle()
        unobserve()
        fiber.interruptUnsafe()
      })
    }))

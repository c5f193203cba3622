/**
 * runWatched: one child fiber ended by the first of its own end, a timeout, or a stop signal; the
 * loser is interrupted (its finalizers run) and nothing it set up outlives the call.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { describe, expect, it } from "vitest"
import { runWatched } from "../../src/router/runWatched.ts"

/** An effect that never ends by itself and records that it was interrupted. */
const hanging = (interrupted: Array<string>, name: string): Effect.Effect<string> =>
  Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => void interrupted.push(name))))

describe("runWatched", () => {
  it("answers with the effect's own result, success or failure, when it ends first", async () => {
    const ok = await Effect.runPromise(runWatched(Effect.succeed(1), { timeout: { ms: 1000, answer: () => 2 } }))
    expect(ok).toBe(1)
    const failed = await Effect.runPromiseExit(runWatched(Effect.fail("boom"), { timeout: { ms: 1000, answer: () => 2 } }))
    expect(failed).toEqual(Exit.fail("boom"))
    const later = await Effect.runPromise(runWatched(Effect.sleep(10).pipe(Effect.as("slept")), { timeout: { ms: 1000, answer: () => "timeout" } }))
    expect(later).toBe("slept")
  })

  it("answers the timeout's answer once it passes, and interrupts the effect", async () => {
    const interrupted: Array<string> = []
    const started = Date.now()
    const answer = await Effect.runPromise(runWatched(hanging(interrupted, "call"), { timeout: { ms: 50, answer: () => "timed out" } }))
    expect(answer).toBe("timed out")
    expect(Date.now() - started).toBeGreaterThanOrEqual(45)
    await Effect.runPromise(Effect.sleep(5))
    expect(interrupted).toEqual(["call"])
  })

  it("answers what stop is given, from a signal after the start or during registration, and unregisters", async () => {
    const interrupted: Array<string> = []
    let unregistered = 0
    let stopNow: ((answer: string) => void) | undefined
    const fiber = Effect.runFork(runWatched(hanging(interrupted, "late"), {
      stopWhen: (stop) => {
        stopNow = stop
        return () => void unregistered++
      }
    }))
    await Effect.runPromise(Effect.sleep(5))
    stopNow!("revoked")
    expect(await Effect.runPromise(Fiber.join(fiber))).toBe("revoked")
    // a second stop is ignored
    stopNow!("again")
    const early = await Effect.runPromise(runWatched(hanging(interrupted, "early"), {
      stopWhen: (stop) => {
        stop("ended before")
        return () => void unregistered++
      }
    }))
    expect(early).toBe("ended before")
    await Effect.runPromise(Effect.sleep(5))
    expect(interrupted).toEqual(["late", "early"])
    expect(unregistered).toBe(2)
  })

  it("clears its timer and unregisters when the effect ends first: no stop comes after", async () => {
    let unregistered = 0
    let timeouts = 0
    let stopLater: ((answer: string) => void) | undefined
    const answer = await Effect.runPromise(runWatched(Effect.sleep(1).pipe(Effect.as("done")), {
      timeout: { ms: 20, answer: () => (timeouts++, "timeout") },
      stopWhen: (stop) => {
        stopLater = stop
        return () => void unregistered++
      }
    }))
    expect(answer).toBe("done")
    expect(unregistered).toBe(1)
    stopLater!("too late")
    await Effect.runPromise(Effect.sleep(40))
    expect(timeouts).toBe(0)
  })

  it("registers nothing for an effect that ends as it starts", async () => {
    let registered = 0
    let timeouts = 0
    const answer = await Effect.runPromise(runWatched(Effect.succeed("at once"), {
      timeout: { ms: 5, answer: () => (timeouts++, "timeout") },
      stopWhen: () => (registered++, () => {})
    }))
    expect(answer).toBe("at once")
    await Effect.runPromise(Effect.sleep(20))
    expect({ registered, timeouts }).toEqual({ registered: 0, timeouts: 0 })
  })

  it("interrupts the effect when its caller is interrupted, and unregisters", async () => {
    const interrupted: Array<string> = []
    let unregistered = 0
    const running = await Effect.runPromise(Deferred.make<void>())
    const fiber = Effect.runFork(runWatched(Deferred.succeed(running, undefined).pipe(Effect.andThen(hanging(interrupted, "child"))), {
      timeout: { ms: 10_000, answer: () => "timeout" },
      stopWhen: () => () => void unregistered++
    }))
    await Effect.runPromise(Deferred.await(running))
    await Effect.runPromise(Fiber.interrupt(fiber))
    await Effect.runPromise(Effect.sleep(5))
    expect(interrupted).toEqual(["child"])
    expect(unregistered).toBe(1)
  })
})

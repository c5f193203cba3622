/**
 * execute_command stops what it starts: output caps, its own timeout, the Router's tools.timeout and
 * interruption all end the whole process group, including a program that ignores SIGTERM and its children.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { type Fixture, makeFixture, put, structured, textOf } from "../fixtures.ts"
import { execute, isAlive, killLeftovers, readPids, startedPids, waitFor, writesPid } from "./processHelpers.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => {
  killLeftovers()
  fx.cleanup()
})

/** Every call must come back: a hang fails the test instead of stalling it. */
const run = (args: Record<string, unknown>, tools: Record<string, unknown>) =>
  execute(fx.root, args, tools).pipe(Effect.timeout("15 seconds"))

// scripts go on one line: a newline in an argument is refused as a control character
const node = (script: string, extra: Record<string, unknown> = {}) => ({
  command: "node",
  args: ["-e", script.replace(/\s*\n\s*/g, " ").trim()],
  ...extra
})

/** Reads the pids a child wrote to `file`, remembering them for cleanup. */
const pidsFrom = (file: string, count: number) =>
  Effect.gen(function*() {
    const pids = yield* readPids(path.join(fx.root, file), count)
    pids.forEach((pid) => startedPids.add(pid))
    assert.lengthOf(pids, count, `the child did not write ${count} pids to ${file}`)
    return pids
  })

/** Every pid is gone within a bounded wait (a zombie counts as gone). */
const allGone = (pids: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const gone = yield* waitFor(() => pids.every((pid) => !isAlive(pid)), 3_000)
    assert.isTrue(gone, `still running: ${pids.filter(isAlive).join(", ")}`)
  })

// a child that starts `sleep 60` in its own process group, then idles; both pids go to pids.txt
const withGrandchild = `
  const sleeper = require("child_process").spawn("sleep", ["60"], { stdio: "ignore" });
  require("fs").writeFileSync("pids.txt", process.pid + " " + sleeper.pid);
  console.log("ready");
  setInterval(() => {}, 1000);
`

describe("output over tools.maxOutputBytes", () => {
  it.live("stdout is cut at the cap, the program is stopped and the result is an error", () =>
    Effect.gen(function*() {
      const output = yield* run({ command: "yes" }, { allowedCommands: ["yes"], maxOutputBytes: 1000, timeout: 3_000 })
      assert.isTrue(output.isError)
      const result = structured(output)
      assert.isTrue(result["stdoutTruncated"])
      assert.isFalse(result["stderrTruncated"])
      assert.isFalse(result["timedOut"])
      assert.strictEqual(result["stdout"], "y\n".repeat(500))
      assert.strictEqual(result["exitCode"], null)
      assert.strictEqual(result["signal"], "SIGTERM")
      assert.match(textOf(output), /^yes was stopped: its output passed tools\.maxOutputBytes in \d+ ms\n--- stdout \(truncated\) ---\ny\n/)
    }))

  it.live("a flooding program is gone when the call returns; stderr has its own cap", () =>
    Effect.gen(function*() {
      const tools = { allowedCommands: ["node"], maxOutputBytes: 1000, timeout: 3_000 }
      const flood = (stream: string) =>
        node(`${writesPid("pid.txt")} const s = "x".repeat(4096); setInterval(() => process.${stream}.write(s), 1)`)
      const out = yield* run(flood("stdout"), tools)
      const [pid] = yield* pidsFrom("pid.txt", 1)
      assert.isFalse(isAlive(pid!), "the flooding program is still running")
      assert.isTrue(structured(out)["stdoutTruncated"])
      assert.strictEqual(structured(out)["stdout"], "x".repeat(1000))
      assert.isTrue(out.isError)

      const err = yield* run(flood("stderr"), tools)
      const [pid2] = yield* pidsFrom("pid.txt", 1)
      yield* allGone([pid2!])
      assert.isTrue(structured(err)["stderrTruncated"])
      assert.isFalse(structured(err)["stdoutTruncated"])
      assert.strictEqual(structured(err)["stderr"], "x".repeat(1000))
      assert.include(textOf(err), "--- stderr (truncated) ---")
    }))

  it.live("output exactly at the cap is not truncated", () =>
    Effect.gen(function*() {
      put(fx.root, "exact.txt", "z".repeat(1000))
      const output = yield* run({ command: "cat", args: ["exact.txt"] }, { maxOutputBytes: 1000, timeout: 3_000 })
      assert.isFalse(output.isError)
      assert.isFalse(structured(output)["stdoutTruncated"])
      assert.strictEqual(structured(output)["stdout"], "z".repeat(1000))
    }))
})

describe("timeoutMs", () => {
  it.live("a timeoutMs under tools.timeout ends the run with timedOut and the output so far", () =>
    Effect.gen(function*() {
      put(fx.root, "log.txt", "first line\n")
      const output = yield* run({ command: "tail", args: ["-f", "log.txt"], timeoutMs: 800 }, { timeout: 3_000 })
      assert.isTrue(output.isError)
      const { durationMs, ...rest } = structured(output)
      assert.deepStrictEqual(rest, {
        exitCode: null,
        signal: "SIGTERM",
        stdout: "first line\n",
        stderr: "",
        stdoutTruncated: false,
        stderrTruncated: false,
        timedOut: true
      })
      assert.isNumber(durationMs)
      assert.match(textOf(output), /^tail timed out after \d+ ms; the process group was stopped in \d+ ms\n--- stdout ---\nfirst line\n$/)
    }))

  it.live("a timeoutMs over tools.timeout is cut to tools.timeout", () =>
    Effect.gen(function*() {
      put(fx.root, "log.txt", "x\n")
      const output = yield* run({ command: "tail", args: ["-f", "log.txt"], timeoutMs: 600_000 }, { timeout: 1_000 })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "timed out")
    }))

  it.live("a program that ignores SIGTERM is killed; the call returns and the process is gone", () =>
    Effect.gen(function*() {
      const script = `process.on("SIGTERM", () => {}); ${writesPid("pid.txt")} console.log("ready"); setInterval(() => {}, 1000)`
      const output = yield* run(node(script, { timeoutMs: 1_500 }), { allowedCommands: ["node"], timeout: 6_000 })
      const [pid] = yield* pidsFrom("pid.txt", 1)
      // "ready" shows the SIGTERM handler was installed before the timeout
      assert.strictEqual(structured(output)["stdout"], "ready\n")
      assert.isTrue(structured(output)["timedOut"])
      assert.isTrue(output.isError)
      assert.isFalse(isAlive(pid!), "the SIGTERM-ignoring program is still running")
    }))

  it.live("the whole process group is stopped: a grandchild is gone too", () =>
    Effect.gen(function*() {
      const output = yield* run(node(withGrandchild, { timeoutMs: 1_000 }), { allowedCommands: ["node"], timeout: 4_000 })
      const pids = yield* pidsFrom("pids.txt", 2)
      assert.isTrue(structured(output)["timedOut"])
      assert.strictEqual(structured(output)["stdout"], "ready\n")
      yield* allGone(pids)
    }))
})

describe("the Router's tools.timeout and interruption", () => {
  it.live("tools.timeout ends the call and stops the process group", () =>
    Effect.gen(function*() {
      const output = yield* run(node(withGrandchild), { allowedCommands: ["node"], timeout: 1_500 })
      const pids = yield* pidsFrom("pids.txt", 2)
      assert.isTrue(output.isError)
      assert.include(textOf(output), "timed out")
      yield* allGone(pids)
    }))

  it.live("interrupting a call stops the process group", () =>
    Effect.gen(function*() {
      const fiber = yield* Effect.forkChild(execute(fx.root, node(withGrandchild), { allowedCommands: ["node"], timeout: 3_000 }))
      const pids = yield* pidsFrom("pids.txt", 2)
      assert.isTrue(pids.every(isAlive), "the child and grandchild should be running before the interruption")
      yield* Fiber.interrupt(fiber).pipe(Effect.timeout("10 seconds"))
      yield* allGone(pids)
    }))

  it.live("a program that exits leaves no background child in its group", () =>
    Effect.gen(function*() {
      const script = `
        const sleeper = require("child_process").spawn("sleep", ["60"], { stdio: "ignore" });
        require("fs").writeFileSync("pids.txt", process.pid + " " + sleeper.pid);
        sleeper.unref();
      `
      const output = yield* run(node(script), { allowedCommands: ["node"], timeout: 3_000 })
      const pids = yield* pidsFrom("pids.txt", 2)
      assert.isFalse(output.isError, textOf(output))
      assert.strictEqual(structured(output)["exitCode"], 0)
      yield* allGone(pids)
    }))
})

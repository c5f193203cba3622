/** Helpers of the execute_command tests: running the tool, watching real processes, bounded waits. */
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { callTool, runWith } from "../fixtures.ts"

/** Runs execute_command through the Router on a fresh core layer rooted at `root`. */
export const execute = (root: string, args: Record<string, unknown>, tools: Record<string, unknown> = {}) =>
  runWith(root, callTool("execute_command", args), tools)

/** Whether `pid` is a running process; a zombie (exited, not yet reaped) counts as gone. */
export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  try {
    // "pid (comm) S ...": the state follows the last ")"
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z"
  } catch {
    return false
  }
}

/** Polls `check` every 25 ms until it holds or `timeoutMs` passes; returns whether it held. */
export const waitFor = (check: () => boolean, timeoutMs = 3_000) =>
  Effect.promise(async () => {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
    return true
  })

/** The whitespace-separated pids a child wrote to `file`, once it holds `count` of them (bounded). */
export const readPids = (file: string, count: number, timeoutMs = 5_000) =>
  Effect.gen(function*() {
    const parse = () => {
      try {
        return fs.readFileSync(file, "utf8").trim().split(/\s+/).filter((s) => s !== "").map(Number)
      } catch {
        return []
      }
    }
    yield* waitFor(() => parse().length >= count, timeoutMs)
    return parse()
  })

/** Pids started by a test, SIGKILLed in afterEach if a failed assertion left them running. */
export const startedPids = new Set<number>()
export const killLeftovers = () => {
  for (const pid of startedPids) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL")
      } catch {
        // already gone
      }
    }
  }
  startedPids.clear()
}

/** Runs `effect` with `vars` set in process.env, restoring the previous values afterwards. */
export const withEnv = <A, E, R>(vars: Record<string, string>, effect: Effect.Effect<A, E, R>) =>
  Effect.acquireUseRelease(
    Effect.sync(() => {
      const previous = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]))
      Object.assign(process.env, vars)
      return previous
    }),
    () => effect,
    (previous) =>
      Effect.sync(() => {
        for (const [k, v] of Object.entries(previous)) {
          if (v === undefined) delete process.env[k]
          else process.env[k] = v
        }
      })
  )

/** A node -e script that writes its pid (and any more pids it appends) to `file` inside the working folder. */
export const writesPid = (file: string) => `require("fs").writeFileSync(${JSON.stringify(file)}, process.pid + " ");`

export const exists = (root: string, relative: string) => fs.existsSync(path.join(root, relative))

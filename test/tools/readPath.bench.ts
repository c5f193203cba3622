/**
 * A micro-benchmark of the read path: N read_file calls in-process, through the Router (the real tool
 * path: argument decoding, limits, metrics, Sandbox, the tool) and straight to the tool's handler (the
 * Sandbox and the file I/O alone). Run: `node test/tools/readPath.bench.ts [N]`.
 */
import { Effect } from "effect"
import { ToolRegistry } from "../../src/tools/ToolRegistry.ts"
import { callTool, makeFixture, put, runWith } from "./fixtures.ts"

const calls = Number(process.argv[2] ?? 10_000)
const fx = makeFixture()
put(fx.root, "docs/deep/notes.txt", "x".repeat(1024))
const args = { path: "docs/deep/notes.txt" }

const measure = (label: string, call: Effect.Effect<{ readonly isError?: boolean }, unknown, any>) =>
  Effect.gen(function*() {
    for (let i = 0; i < 1000; i++) yield* call // warm-up
    const started = performance.now()
    const cpu = process.cpuUsage()
    for (let i = 0; i < calls; i++) {
      const output = yield* call
      if (output.isError === true) throw new Error(JSON.stringify(output))
    }
    const ms = performance.now() - started
    const used = process.cpuUsage(cpu)
    // CPU time (this process, all threads) is steadier than wall time on a shared machine
    console.log(
      `${label}: ${calls} calls in ${ms.toFixed(0)} ms, ${((ms * 1000) / calls).toFixed(1)} µs/call wall, ` +
        `${((used.user + used.system) / calls).toFixed(1)} µs/call CPU`
    )
  })

try {
  await Effect.runPromise(runWith(fx.root, Effect.gen(function*() {
    const tool = (yield* ToolRegistry).find("read_file")!
    for (let round = 1; round <= 3; round++) {
      yield* measure(`round ${round} Router.call read_file (1 KiB)`, callTool("read_file", args))
      yield* measure(`round ${round} handler   read_file (1 KiB)`, tool.run(args))
    }
  })) as Effect.Effect<void>)
} finally {
  fx.cleanup()
}

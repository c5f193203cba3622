/**
 * Main-thread cost of search_files: N sequential searches in-process through the Router over 100 small
 * files, each timed, with the event loop's delay (perf_hooks.monitorEventLoopDelay) during each one.
 * Run: `npx node test/tools/searchLag.bench.ts [N]`; with WARM=1 a list_directory call first takes the
 * router's own first-call cost out of the first search. The searches stop at tools.maxSearchResults (50):
 * `line 1$` ends in the second file read, `line 9$` reads nearly all (names sort f0, f1, f10..f19, f2, ...).
 */
import { Effect } from "effect"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { callTool, makeFixture, put, runWith } from "./fixtures.ts"

const searches = Number(process.argv[2] ?? 10)
const fx = makeFixture()
for (let i = 0; i < 100; i++) put(fx.root, `f${i}.txt`, `line ${i}\n`.repeat(200))

try {
  await Effect.runPromise(runWith(fx.root, Effect.gen(function*() {
    const histogram = monitorEventLoopDelay({ resolution: 1 })
    histogram.enable()
    if (process.env["WARM"] === "1") yield* callTool("list_directory", { path: "." })
    for (let i = 0; i < searches; i++) {
      histogram.reset()
      const started = performance.now()
      const output = yield* callTool("search_files", { pattern: "*.txt", contentRegex: `line ${i % 50}$` })
      const ms = performance.now() - started
      // let the monitor take one more sample after the call
      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      if (output.isError === true) throw new Error(JSON.stringify(output))
      console.log(`search ${i + 1}: ${ms.toFixed(1)} ms, max event-loop delay ${(histogram.max / 1e6).toFixed(1)} ms`)
    }
    histogram.disable()
  }), { maxSearchResults: 50 }) as Effect.Effect<void>)
} finally {
  fx.cleanup()
}

/**
 * Race soak: a child process swaps `race/real` in a tight loop between a real folder, a symbolic link to a
 * folder outside and a symbolic link back inside (each step one rename of a prepared entry, so atomic),
 * while at least 20,000 read_file and 20,000 write_file calls go through the Router in-process (the real
 * tool path: argument decoding, Sandbox, the tools), with list_directory, search_files and execute_command
 * beside them. Zero outside reads (the outside files' text is never returned), zero outside writes (the
 * outside folder stays as it was), and the race was live (many swaps; calls refused as outside; calls
 * that succeeded).
 *
 * Run by `npm run test:soak` (vitest.soak.config.ts), which .ci/run runs after the main tests.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll } from "vitest"
import { callTool, type Fixture, makeFixture, put, runWith, textOf } from "./fixtures.ts"

const reads = Number(process.env["MCP_SOAK_READS"] ?? 20_000)
const writes = Number(process.env["MCP_SOAK_WRITES"] ?? 20_000)
const others = Number(process.env["MCP_SOAK_OTHERS"] ?? 600)
const concurrency = 6

const insideText = "INSIDE text"
const outsideText = "OUTSIDE-SECRET text"
const outsideMarker = "outside-marker.txt"

/**
 * The swap loop, as a program: dir → (absent) → link out → link in → link out → (absent) → dir. Every
 * change of race/real is one rename(2); links are prepared beside it first. SIGTERM: print the count, exit.
 */
const swapLoop = `
const fs = require("node:fs"), path = require("node:path")
const [race, outside] = process.argv.slice(1)
const at = (name) => path.join(race, name)
let swaps = 0
process.on("SIGTERM", () => { process.stdout.write(String(swaps)); process.exit(0) })
const prepare = (name, target) => { try { fs.symlinkSync(target, at(name)) } catch (e) { if (e.code !== "EEXIST") throw e } }
let strays = 0
// while race/real is absent a call with createDirs may make a folder there: it is moved aside, and the rename retried
const move = (from, to) => {
  try { fs.renameSync(at(from), at(to)) } catch (e) {
    if (to !== "real") throw e
    fs.renameSync(at("real"), at("stray-" + strays++))
    fs.renameSync(at(from), at(to))
  }
  swaps++
}
const step = () => {
  move("real", "parked")
  move("link-out", "real")
  move("link-in", "real")
  prepare("link-out", outside)
  move("link-out", "real")
  prepare("link-in", "parked")
  move("real", "link-out")
  move("parked", "real")
}
process.stdout.write("ready\\n")
const parent = process.ppid
// never outlives the test: a parent gone (re-parented) ends the loop
const loop = () => { if (process.ppid !== parent) process.exit(1); for (let i = 0; i < 200; i++) step(); setImmediate(loop) }
loop()
`

let fx: Fixture
let race: string
let swapper: ChildProcess
let outsideBefore: Map<string, string>

/** Every file under `dir` (relative) with its content; folders as "/". */
const tree = (dir: string): Map<string, string> => {
  const out = new Map<string, string>()
  const walk = (at: string) => {
    for (const entry of fs.readdirSync(at, { withFileTypes: true })) {
      const full = path.join(at, entry.name)
      const rel = path.relative(dir, full)
      if (entry.isDirectory()) {
        out.set(`${rel}/`, "/")
        walk(full)
      } else out.set(rel, entry.isSymbolicLink() ? `-> ${fs.readlinkSync(full)}` : fs.readFileSync(full, "utf8"))
    }
  }
  walk(dir)
  return out
}

beforeAll(async () => {
  fx = makeFixture()
  race = path.join(fx.root, "race")
  put(fx.root, "race/real/inner.txt", insideText)
  put(fx.root, "race/real/sub/deep.txt", insideText)
  put(fx.outside, "inner.txt", outsideText)
  put(fx.outside, "sub/deep.txt", outsideText)
  put(fx.outside, outsideMarker, outsideText)
  fs.symlinkSync(fx.outside, path.join(race, "link-out"))
  fs.symlinkSync("parked", path.join(race, "link-in"))
  outsideBefore = tree(fx.outside)
  swapper = spawn(process.execPath, ["-e", swapLoop, race, fx.outside], { stdio: ["ignore", "pipe", "inherit"] })
  await new Promise<void>((resolve, reject) => {
    swapper.stdout!.once("data", () => resolve())
    swapper.once("exit", (code) => reject(new Error(`swap loop exited with ${code}`)))
  })
})

afterAll(() => {
  if (swapper.exitCode === null) swapper.kill("SIGKILL")
  fx.cleanup()
})

/** Stops the swap loop; the number of swaps it made. */
const stopSwapper = () =>
  new Promise<number>((resolve, reject) => {
    if (swapper.exitCode !== null) return reject(new Error(`the swap loop stopped early (exit ${swapper.exitCode})`))
    let output = ""
    swapper.stdout!.on("data", (chunk) => (output += String(chunk)))
    swapper.once("exit", () => resolve(Number(output.trim().split("\n").pop())))
    swapper.kill("SIGTERM")
  })

interface Tally {
  calls: number
  ok: number
  refusedOutside: number
  leaks: Array<string>
}
const tally = (): Tally => ({ calls: 0, ok: 0, refusedOutside: 0, leaks: [] })

describe("race soak: a swap loop beside thousands of calls", () => {
  it.live(`${reads} reads and ${writes} writes: none outside`, () =>
    Effect.gen(function*() {
      const read = tally()
      const write = tally()
      const other = tally()
      const started = Date.now()
      const note = (t: Tally, text: string, isError: boolean | undefined) => {
        t.calls++
        if (text.includes("OUTSIDE-SECRET") || text.includes(outsideMarker)) t.leaks.push(text.slice(0, 200))
        if (isError !== true) t.ok++
        else if (text.includes("outside the working directory")) t.refusedOutside++
      }
      const readCall = (i: number) =>
        Effect.map(callTool("read_file", { path: i % 2 === 0 ? "race/real/inner.txt" : "race/real/sub/deep.txt" }), (output) => {
          note(read, textOf(output), output.isError)
          // a read that succeeds returns the inside text, whole
          if (output.isError !== true && textOf(output) !== insideText) read.leaks.push(`unexpected: ${textOf(output).slice(0, 100)}`)
        })
      const writeCall = (i: number) => {
        const kind = i % 10
        const args = kind < 7
          ? { path: `race/real/w-${i % 50}.txt`, content: `written ${i}` }
          : kind === 7
          ? { path: `race/real/log-${i % 5}.txt`, content: `line ${i}\n`, mode: "append" }
          : kind === 8
          ? { path: `race/real/c-${i}.txt`, content: `created ${i}`, mode: "create" }
          : { path: `race/real/d-${i % 50}/e-${i % 7}/f.txt`, content: `deep ${i}`, createDirs: true }
        return Effect.map(callTool("write_file", args), (output) => note(write, textOf(output), output.isError))
      }
      const otherCall = (i: number) => {
        const kind = i % 3
        const [name, args] = kind === 0
          ? ["list_directory", { path: "race/real", recursive: true }] as const
          : kind === 1
          ? ["search_files", { path: "race/real", contentRegex: "text|SECRET", pattern: "*.txt" }] as const
          : ["execute_command", { command: "ls", args: ["-a"], cwd: "race/real" }] as const
        return Effect.map(callTool(name, args), (output) => note(other, `${textOf(output)}${JSON.stringify(output.structuredContent ?? {})}`, output.isError))
      }
      // reads and writes interleaved, `concurrency` at a time; the slower tools spread among them
      const total = Math.max(reads, writes)
      const every = Math.max(1, Math.floor(total / Math.max(1, others)))
      const jobs = Array.from({ length: total }, (_, i) =>
        Effect.all([
          i < reads ? readCall(i) : Effect.void,
          i < writes ? writeCall(i) : Effect.void,
          i % every === 0 && i / every < others ? otherCall(i / every) : Effect.void
        ], { discard: true }))
      yield* runWith(fx.root, Effect.forEach(jobs, (job) => job, { concurrency, discard: true }))
      const swaps = yield* Effect.promise(stopSwapper)
      const seconds = ((Date.now() - started) / 1000).toFixed(1)
      console.log(
        `race soak: ${swaps} swaps in ${seconds} s; ` +
          `read_file ${read.calls} (${read.ok} ok, ${read.refusedOutside} refused as outside), ` +
          `write_file ${write.calls} (${write.ok} ok, ${write.refusedOutside} refused as outside), ` +
          `list/search/execute ${other.calls} (${other.ok} ok)`
      )
      // zero outside reads: the outside text or names never came back
      assert.deepStrictEqual(read.leaks, [])
      assert.deepStrictEqual(other.leaks, [])
      assert.deepStrictEqual(write.leaks, [])
      // zero outside writes: the outside folder is exactly as it was
      assert.deepStrictEqual(tree(fx.outside), outsideBefore)
      // the calls all went through, and the race was live: both outcomes were seen, many times
      assert.strictEqual(read.calls, reads)
      assert.strictEqual(write.calls, writes)
      assert.isAbove(swaps, 10_000)
      assert.isAbove(read.ok, reads / 20)
      assert.isAbove(read.refusedOutside, reads / 100)
      assert.isAbove(write.ok, writes / 20)
      assert.isAbove(write.refusedOutside, writes / 100)
      // what was written went inside: the real folder (wherever the swap left it) holds the files
      const folder = fs.existsSync(path.join(race, "parked")) ? path.join(race, "parked") : path.join(race, "real")
      assert.isTrue(fs.readdirSync(folder).some((name) => name.startsWith("w-")))
      assert.deepStrictEqual(fs.readdirSync(folder).filter((name) => name.endsWith(".tmp")), [])
    }), { timeout: 600_000 })
})

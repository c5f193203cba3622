/**
 * The object that was checked is the object that is used: symbolic links swapped in between the steps of
 * read_file, write_file, list_directory and search_files, at each step, deterministically (SandboxHooks
 * run the swap at a chosen moment), and the folder of a program swapped after its check. Special files
 * (FIFOs, /proc, /dev) reached through the workspace.
 *
 * Layout: `race/real` is a folder (inner.txt, sub/deep.txt); `race/out-link` is a prepared symbolic link
 * to a folder outside holding files of the same names with a secret, and a marker file. A swap renames
 * `race/real` to `race/parked` and the link to `race/real` (and back).
 */
import { NodeServices } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../src/main.ts"
import { runProcess } from "../../src/tools/process/runProcess.ts"
import { type SandboxHookPoint, SandboxHooks } from "../../src/tools/Sandbox.ts"
import { callTool, type Fixture, link, makeFixture, put, structured, textOf } from "./fixtures.ts"

const insideText = "INSIDE text"
const outsideText = "OUTSIDE secret text"
const marker = "outside-marker.txt"

let fx: Fixture
let real: string
let parked: string
let outLink: string
beforeEach(() => {
  fx = makeFixture()
  put(fx.root, "race/real/inner.txt", insideText)
  put(fx.root, "race/real/sub/deep.txt", insideText)
  put(fx.outside, "inner.txt", outsideText)
  put(fx.outside, "sub/deep.txt", outsideText)
  put(fx.outside, marker, outsideText)
  real = path.join(fx.root, "race", "real")
  parked = path.join(fx.root, "race", "parked")
  outLink = link(fx.root, "race/out-link", fx.outside)
})
afterEach(() => fx.cleanup())

/** race/real becomes the link to the folder outside; the real folder is parked inside. */
const toLink = () => {
  fs.renameSync(real, parked)
  fs.renameSync(outLink, real)
}
/** race/real becomes the folder again. */
const toFolder = () => {
  fs.renameSync(real, outLink)
  fs.renameSync(parked, real)
}

/** The outside folder holds exactly what it was given, unchanged. */
const outsideUntouched = () => {
  assert.deepStrictEqual(fs.readdirSync(fx.outside).sort(), ["inner.txt", marker, "secret.txt", "sub"].sort())
  assert.deepStrictEqual(fs.readdirSync(path.join(fx.outside, "sub")), ["deep.txt"])
  assert.strictEqual(fs.readFileSync(path.join(fx.outside, "inner.txt"), "utf8"), outsideText)
  assert.strictEqual(fs.readFileSync(path.join(fx.outside, "sub", "deep.txt"), "utf8"), outsideText)
}

/** A hook acting once, at the `nth` time (1-based) `point` is reached. */
const once = (point: SandboxHookPoint, act: () => void, nth = 1) => {
  let seen = 0
  const calls: Array<string> = []
  return {
    calls,
    at: (reached: SandboxHookPoint, detail: string) => {
      calls.push(`${reached} ${detail}`)
      if (reached === point && ++seen === nth) act()
    }
  }
}

const layerWith = (at: (point: SandboxHookPoint, detail: string) => void, input: Record<string, unknown> = {}) =>
  RouterCoreLayer.pipe(
    Layer.provideMerge(AppConfig.layerFromInput({ ...input, tools: { workingDir: fx.root }, logging: { enableConsole: false } })),
    Layer.provide(Layer.succeed(SandboxHooks, { at }))
  )

const call = (at: (point: SandboxHookPoint, detail: string) => void, name: string, args: unknown, input: Record<string, unknown> = {}) =>
  callTool(name, args).pipe(Effect.provide(layerWith(at, input)))

describe("read_file: a swap at any step never reads outside", () => {
  it.effect("swapped to the link after the open: the file opened (inside) is read", () =>
    Effect.gen(function*() {
      const hook = once("opened", toLink)
      const output = yield* call(hook.at, "read_file", { path: "race/real/inner.txt" })
      assert.isUndefined(output.isError, textOf(output))
      assert.strictEqual(textOf(output), insideText)
      // verified after the swap: the path reported is where the file is now
      assert.strictEqual(structured(output)["path"], path.join("race", "parked", "inner.txt"))
    }))

  it.effect("swapped to the link after the verification, before the read: the verified file is read", () =>
    Effect.gen(function*() {
      const hook = once("before-read", toLink)
      const output = yield* call(hook.at, "read_file", { path: "race/real/sub/deep.txt" })
      assert.strictEqual(textOf(output), insideText)
      assert.deepStrictEqual(hook.calls.map((c) => c.split(" ")[0]), ["opened", "before-read"])
    }))

  it.effect("the link at the open, the folder back before the verification: the opened file is refused", () =>
    Effect.gen(function*() {
      toLink()
      const hook = once("opened", toFolder)
      const output = yield* call(hook.at, "read_file", { path: "race/real/inner.txt" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "outside the working directory")
      assert.include(textOf(output), path.join(fx.outside, "inner.txt"))
      assert.notInclude(textOf(output), outsideText)
      // the path now leads inside, yet what was opened was outside: the decision is on the object
      assert.isTrue(fs.statSync(real).isDirectory())
    }))

  it.effect("the router's data dir in the working folder, reached at the open: refused on the verified real path", () =>
    Effect.gen(function*() {
      const dataDir = path.join(fx.root, "data")
      put(dataDir, "inner.txt", "ROUTER STATE")
      fs.renameSync(real, parked)
      fs.symlinkSync(dataDir, real)
      const hook = once("opened", () => {
        fs.unlinkSync(real)
        fs.renameSync(parked, real)
      })
      const output = yield* call(hook.at, "read_file", { path: "race/real/inner.txt" }, { storage: { dataDir } })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "data dir (storage.dataDir)")
      assert.notInclude(textOf(output), "ROUTER STATE")
    }))

  it.effect("a hard link to the router's file swapped in at the name is refused by identity", () =>
    Effect.gen(function*() {
      const dataDir = path.join(fx.root, "data")
      const database = put(dataDir, "db", "ROUTER STATE")
      // the path is checked as a plain file; the hard link replaces it right after the open... then the open
      // target itself is the hard link: the identity check is on what was opened
      put(fx.root, "race/real/db-name", "plain")
      fs.unlinkSync(path.join(real, "db-name"))
      fs.linkSync(database, path.join(real, "db-name"))
      const output = yield* call(() => undefined, "read_file", { path: "race/real/db-name" }, { storage: { dataDir } })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "hard link")
      assert.notInclude(textOf(output), "ROUTER STATE")
    }))
})

describe("write_file: a swap at any step never writes outside", () => {
  for (const mode of ["overwrite", "create", "append"] as const) {
    it.effect(`${mode}: swapped to the link after the folder was verified: written in the verified folder`, () =>
      Effect.gen(function*() {
        const hook = once("before-write", toLink)
        const output = yield* call(hook.at, "write_file", { path: "race/real/new.txt", content: "written", mode })
        assert.isUndefined(output.isError, textOf(output))
        assert.strictEqual(fs.readFileSync(path.join(parked, "new.txt"), "utf8"), "written")
        outsideUntouched()
      }))
  }

  it.effect("overwrite: swapped to the link before the rename: the rename stays in the verified folder", () =>
    Effect.gen(function*() {
      const hook = once("before-rename", toLink)
      const output = yield* call(hook.at, "write_file", { path: "race/real/inner.txt", content: "replaced" })
      assert.isUndefined(output.isError, textOf(output))
      assert.strictEqual(fs.readFileSync(path.join(parked, "inner.txt"), "utf8"), "replaced")
      assert.deepStrictEqual(fs.readdirSync(parked).filter((n) => n.endsWith(".tmp")), [])
      outsideUntouched()
    }))

  it.effect("overwrite of an existing file swapped after its open: written where the opened file is", () =>
    Effect.gen(function*() {
      // the file is opened through race/real, which then becomes the link: the verified real path of the
      // opened file is race/parked/inner.txt, and its folder is opened by that path and checked to be it
      const hook = once("opened", toLink)
      const output = yield* call(hook.at, "write_file", { path: "race/real/inner.txt", content: "replaced" })
      assert.isUndefined(output.isError, textOf(output))
      assert.strictEqual(structured(output)["path"], path.join("race", "parked", "inner.txt"))
      assert.strictEqual(fs.readFileSync(path.join(parked, "inner.txt"), "utf8"), "replaced")
      outsideUntouched()
    }))

  it.effect("overwrite of an existing file whose folder moves between the file's check and the folder's: fails, nothing written", () =>
    Effect.gen(function*() {
      // the 2nd open is the folder, by the real path found for the file (race/real); it is swapped right
      // after: the folder opened is no longer at that path, which the check through its descriptor sees
      const hook = once("opened", toLink, 2)
      const output = yield* call(hook.at, "write_file", { path: "race/real/inner.txt", content: "pwned" })
      assert.isTrue(output.isError, textOf(output))
      assert.include(textOf(output), "changed while it was being written")
      assert.include(textOf(output), "nothing was written")
      assert.strictEqual(fs.readFileSync(path.join(parked, "inner.txt"), "utf8"), insideText)
      outsideUntouched()
    }))

  it.effect("createDirs: swapped while the folders are made: each is made inside the one verified before it", () =>
    Effect.gen(function*() {
      // the 2nd open is the first folder made (race/real/a), after race/real was verified
      const hook = once("opened", toLink, 2)
      const output = yield* call(hook.at, "write_file", { path: "race/real/a/b/c.txt", content: "deep", createDirs: true })
      assert.isUndefined(output.isError, textOf(output))
      assert.strictEqual(fs.readFileSync(path.join(parked, "a", "b", "c.txt"), "utf8"), "deep")
      outsideUntouched()
    }))

  it.effect("the link at the open of the folder, the folder back before its verification: refused, nothing made", () =>
    Effect.gen(function*() {
      for (const mode of ["overwrite", "create", "append"]) {
        toLink()
        const hook = once("opened", toFolder)
        const output = yield* call(hook.at, "write_file", { path: "race/real/new.txt", content: "pwned", mode })
        assert.isTrue(output.isError, textOf(output))
        assert.include(textOf(output), "outside the working directory")
        assert.isFalse(fs.existsSync(path.join(real, "new.txt")))
      }
      outsideUntouched()
    }))

  it.effect("the verified folder itself moved outside before the file is made: the file is removed, the write fails", () =>
    Effect.gen(function*() {
      const moved = path.join(fx.outside, "moved")
      const hook = once("before-write", () => fs.renameSync(real, moved))
      const output = yield* call(hook.at, "write_file", { path: "race/real/new.txt", content: "pwned", mode: "create" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "outside the working directory")
      assert.include(textOf(output), "the file made there was removed")
      assert.deepStrictEqual(fs.readdirSync(moved).sort(), ["inner.txt", "sub"])
    }))

  it.effect("the verified folder moved outside before the rename: the renamed file is removed, the write fails", () =>
    Effect.gen(function*() {
      const moved = path.join(fx.outside, "moved")
      const hook = once("before-rename", () => fs.renameSync(real, moved))
      const output = yield* call(hook.at, "write_file", { path: "race/real/new.txt", content: "pwned" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "the file made there was removed")
      assert.deepStrictEqual(fs.readdirSync(moved).sort(), ["inner.txt", "sub"])
    }))

  it.effect("append to a file whose folder moved outside: refused before any byte is written", () =>
    Effect.gen(function*() {
      const moved = path.join(fx.outside, "moved")
      const hook = once("before-write", () => fs.renameSync(real, moved))
      const output = yield* call(hook.at, "write_file", { path: "race/real/inner.txt", content: "pwned", mode: "append" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "outside the working directory")
      assert.strictEqual(fs.readFileSync(path.join(moved, "inner.txt"), "utf8"), insideText)
    }))

  it.effect("a symbolic link put at the name after the check: O_NOFOLLOW refuses it (create, append)", () =>
    Effect.gen(function*() {
      for (const mode of ["create", "append"] as const) {
        const name = path.join(real, `${mode}.txt`)
        const hook = once("before-write", () => fs.symlinkSync(path.join(fx.outside, `${mode}.txt`), name))
        const output = yield* call(hook.at, "write_file", { path: `race/real/${mode}.txt`, content: "pwned", mode })
        assert.isTrue(output.isError, textOf(output))
        assert.isTrue(fs.lstatSync(name).isSymbolicLink())
      }
      outsideUntouched()
    }))

  it.effect("overwrite when a symbolic link is put at the name after the check: the link is replaced, its target untouched", () =>
    Effect.gen(function*() {
      const hook = once("before-rename", () => {
        fs.unlinkSync(path.join(real, "inner.txt"))
        fs.symlinkSync(path.join(fx.outside, "inner.txt"), path.join(real, "inner.txt"))
      })
      const output = yield* call(hook.at, "write_file", { path: "race/real/inner.txt", content: "replaced" })
      assert.isUndefined(output.isError, textOf(output))
      assert.isFalse(fs.lstatSync(path.join(real, "inner.txt")).isSymbolicLink())
      assert.strictEqual(fs.readFileSync(path.join(real, "inner.txt"), "utf8"), "replaced")
      outsideUntouched()
    }))
})

describe("list_directory and search_files: a swap after the open lists and searches the opened folder", () => {
  it.effect("list_directory, recursive: the folder opened is listed, never the outside one", () =>
    Effect.gen(function*() {
      const hook = once("opened", toLink)
      const output = yield* call(hook.at, "list_directory", { path: "race/real", recursive: true })
      assert.isUndefined(output.isError, textOf(output))
      const names = (structured(output)["entries"] as Array<{ name: string }>).map((e) => e.name).sort()
      assert.deepStrictEqual(names, ["deep.txt", "inner.txt", "sub"])
      assert.notInclude(textOf(output), marker)
    }))

  it.effect("list_directory: a sub-folder swapped for a link while listing is not descended into", () =>
    Effect.gen(function*() {
      // the listing of race/ reads "real" as a folder; before it is opened, it becomes the link
      const hook = once("opened", toLink)
      const output = yield* call(hook.at, "list_directory", { path: "race", recursive: true })
      assert.notInclude(textOf(output), marker)
      assert.notInclude(JSON.stringify(structured(output)), marker)
    }))

  it.effect("search_files by content and by name: the opened folder is searched", () =>
    Effect.gen(function*() {
      for (const args of [{ path: "race/real", contentRegex: "text" }, { path: "race/real", pattern: "*" }]) {
        toFolderIfLinked()
        const hook = once("opened", toLink)
        const output = yield* call(hook.at, "search_files", args)
        assert.isUndefined(output.isError, textOf(output))
        assert.notInclude(textOf(output), outsideText)
        assert.notInclude(textOf(output), marker)
        assert.isAbove(structured(output)["count"], 0)
      }
    }))

  it.effect("search_files from above: a folder swapped for a link is not followed", () =>
    Effect.gen(function*() {
      const hook = once("opened", toLink)
      const output = yield* call(hook.at, "search_files", { path: "race", contentRegex: "secret|text", includeHidden: true })
      assert.notInclude(textOf(output), outsideText)
      assert.notInclude(textOf(output), marker)
    }))
})

const toFolderIfLinked = () => {
  if (fs.lstatSync(real).isSymbolicLink()) toFolder()
}

describe("a program's folder is the folder that was checked", () => {
  const run = (cwd: string) =>
    runProcess({ command: "/bin/pwd", args: ["-P"], cwd, env: { PATH: "/usr/bin:/bin" }, timeoutMs: 5_000, maxOutputBytes: 10_000 }).pipe(
      Effect.provide(NodeServices.layer)
    )

  it.live("unchanged: the program runs in it", () =>
    Effect.gen(function*() {
      const result = yield* run(real)
      assert.strictEqual(result.exitCode, 0)
      assert.strictEqual(result.stdout.trim(), real)
    }))

  it.live("swapped for a link after the check: nothing runs", () =>
    Effect.gen(function*() {
      toLink()
      const error = yield* Effect.flip(run(real))
      assert.include(error.message, "changed after it was checked")
      assert.include(error.message, fx.outside)
      assert.include(error.message, "nothing was run")
    }))

  it.live("moved after the check: nothing runs", () =>
    Effect.gen(function*() {
      fs.renameSync(real, parked)
      const error = yield* Effect.flip(run(real))
      assert.include(error.message, "cannot be opened")
    }))
})

describe("special files reached through the working folder", () => {
  it.live("a FIFO is neither opened for reading nor waited on: read, list and search return at once", () =>
    Effect.gen(function*() {
      execFileSync("mkfifo", [path.join(real, "fifo")])
      const started = Date.now()
      const read = yield* call(() => undefined, "read_file", { path: "race/real/fifo" })
      assert.include(textOf(read), "not a regular file")
      const append = yield* call(() => undefined, "write_file", { path: "race/real/fifo", content: "x", mode: "append" })
      assert.isTrue(append.isError)
      const listed = yield* call(() => undefined, "list_directory", { path: "race/real" })
      assert.include((structured(listed)["entries"] as Array<{ name: string }>).map((e) => e.name), "fifo")
      const searched = yield* call(() => undefined, "search_files", { path: "race/real", contentRegex: "x", pattern: "fifo" })
      assert.isUndefined(searched.isError)
      assert.isBelow(Date.now() - started, 5_000)
    }))

  it.effect("links to /proc, /dev and the process's own descriptors are outside", () =>
    Effect.gen(function*() {
      link(fx.root, "proc-root", "/proc/self/root/etc/hostname")
      link(fx.root, "proc-cwd", "/proc/self/cwd")
      link(fx.root, "dev-zero", "/dev/zero")
      link(fx.root, "fd0", "/proc/self/fd/0")
      for (const name of ["proc-root", "proc-cwd", "dev-zero", "fd0"]) {
        const output = yield* call(() => undefined, "read_file", { path: name })
        assert.isTrue(output.isError, `${name}: ${textOf(output)}`)
        assert.include(textOf(output), "refused")
      }
    }))
})

describe("descriptors", () => {
  /** The open descriptors, once the worker threads ended by the calls have released theirs. */
  const openCount = () => fs.readdirSync("/proc/self/fd").length
  const settled = Effect.promise(async () => {
    // a search worker is terminated without waiting: its event loop's descriptors go a moment later
    for (let i = 0, last = -1; i < 40; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      const now = openCount()
      if (now === last) return now
      last = now
    }
    return openCount()
  })

  it.live("every call closes what it opened: successes, refusals, failures, and calls cut by the timeout", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      put(fx.root, "big.txt", "x".repeat(200_000))
      const calls: Array<readonly [string, Record<string, unknown>]> = [
        ["read_file", { path: "race/real/inner.txt" }],
        ["read_file", { path: "out/inner.txt" }],
        ["read_file", { path: "missing.txt" }],
        ["read_file", { path: "race/real" }],
        ["write_file", { path: "race/real/new.txt", content: "x" }],
        ["write_file", { path: "race/real/new.txt", content: "x", mode: "create" }],
        ["write_file", { path: "race/real/log.txt", content: "x", mode: "append" }],
        ["write_file", { path: "race/real/n/e/w.txt", content: "x", createDirs: true }],
        ["write_file", { path: "out/new.txt", content: "x" }],
        ["list_directory", { path: "race", recursive: true }],
        ["list_directory", { path: "out" }],
        ["search_files", { path: "race", contentRegex: "text" }],
        ["search_files", { path: "big.txt" }]
      ]
      const layer = layerWith(() => undefined)
      yield* Effect.gen(function*() {
        // a first round opens what the router keeps open (its database, the worker's modules)
        for (const [name, args] of calls) yield* callTool(name, args)
        const before = yield* settled
        for (let round = 0; round < 20; round++) {
          for (const [name, args] of calls) yield* callTool(name, args)
        }
        assert.strictEqual(yield* settled, before)
      }).pipe(Effect.provide(layer))
      // calls cut by a short tools.timeout release their descriptors too
      const slow = RouterCoreLayer.pipe(
        Layer.provideMerge(AppConfig.layerFromInput({ tools: { workingDir: fx.root, timeout: 1 }, logging: { enableConsole: false } }))
      )
      const before = yield* settled
      yield* Effect.gen(function*() {
        for (let round = 0; round < 20; round++) {
          yield* callTool("read_file", { path: "big.txt" })
          yield* callTool("write_file", { path: "race/real/big.txt", content: "y".repeat(200_000) })
          yield* callTool("list_directory", { path: "race", recursive: true })
        }
      }).pipe(Effect.provide(slow))
      assert.isAtMost(yield* settled, before)
      assert.deepStrictEqual(fs.readdirSync(real).filter((n) => n.endsWith(".tmp")), [])
    }))
})

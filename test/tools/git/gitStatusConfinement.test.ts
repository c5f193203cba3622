/**
 * What git_status reads: only inside the working directory, never through a link or a swapped folder,
 * nothing written, no FIFO waited on; and git_status on repositories whose files lead outside.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { confinedReadOnlyFs } from "../../../src/tools/git/confinedFs.ts"
import { readGitStatus, StatusFailure } from "../../../src/tools/git/readStatus.ts"
import { findRepository } from "../../../src/tools/git/repository.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, secretText, structured, textOf } from "../fixtures.ts"
import { commitAll, git, repoWith, write } from "./gitRepo.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const confined = (signal?: AbortSignal) => confinedReadOnlyFs(fx.root, { maxFileBytes: 1024, signal })
const code = (promise: Promise<unknown>) => promise.then(() => "ok", (e: NodeJS.ErrnoException) => e.code ?? e.message)

describe("the confined file system", () => {
  it("reads inside; a link or a path leading outside reads as missing and is recorded", async () => {
    put(fx.root, "in.txt", "inside")
    link(fx.root, "out.txt", fx.secret)
    link(fx.root, "outdir", fx.outside)
    const c = confined()
    assert.strictEqual(String(await c.ops.readFile(path.join(fx.root, "in.txt"))), "inside")
    assert.isUndefined(c.problem())
    for (const attempt of [
      () => c.ops.readFile(path.join(fx.root, "out.txt")),
      () => c.ops.readFile(path.join(fx.root, "outdir", "secret.txt")),
      () => c.ops.readdir(path.join(fx.root, "outdir")),
      () => c.ops.stat(path.join(fx.root, "out.txt")),
      () => c.ops.lstat(path.join(fx.root, "outdir", "secret.txt")),
      () => c.ops.readFile(fx.secret),
      () => c.ops.readFile(path.join(fx.root, "..", path.basename(fx.outside), "secret.txt"))
    ]) {
      assert.strictEqual(await code(attempt()), "ENOENT")
    }
    assert.include(c.problem(), "outside the working directory")
  })

  it("the link's own text and metadata are inside; readOwnFile does not follow a link and records nothing", async () => {
    link(fx.root, "out.txt", fx.secret)
    const c = confined()
    assert.strictEqual(await c.ops.readlink(path.join(fx.root, "out.txt")), fx.secret)
    assert.isTrue((await c.ops.lstat(path.join(fx.root, "out.txt"))).isSymbolicLink())
    assert.strictEqual(await code(c.ops.readOwnFile(path.join(fx.root, "out.txt"))), "ENOENT")
    assert.isUndefined(c.problem())
  })

  it("every write is refused", async () => {
    const c = confined()
    const client = c.client.promises as unknown as Record<string, (...args: Array<unknown>) => Promise<unknown>>
    for (const name of ["writeFile", "mkdir", "rmdir", "unlink", "symlink", "rm", "rename", "chmod"]) {
      assert.strictEqual(await code(client[name]!(path.join(fx.root, "x"), "data")), "ENOENT", name)
    }
    assert.include(c.problem(), "git_status does not write")
    assert.deepStrictEqual(fs.readdirSync(fx.root), [])
  })

  it("a FIFO or a file over the size cap is not read; an aborted call reads nothing", async () => {
    const fifo = path.join(fx.root, "fifo")
    const made = spawn("mkfifo", [fifo])
    await new Promise((resolve) => made.on("exit", resolve))
    const c = confined()
    assert.strictEqual(await code(c.ops.readFile(fifo)), "ENOENT")
    put(fx.root, "big.bin", Buffer.alloc(2048))
    assert.strictEqual(await code(c.ops.readFile(path.join(fx.root, "big.bin"))), "ENOENT")
    assert.include(c.problem(), "larger than 1024 bytes")
    put(fx.root, "small.txt", "s")
    const controller = new AbortController()
    controller.abort()
    assert.strictEqual(await code(confined(controller.signal).ops.readFile(path.join(fx.root, "small.txt"))), "ENOENT")
  })

  it("a folder swapped for a link to the outside while it is read: the outside is never read", async () => {
    put(fx.root, "race/real/f.txt", "inside")
    put(fx.root, "race/real/sub/g.txt", "inside")
    fs.mkdirSync(path.join(fx.outside, "sub"))
    fs.writeFileSync(path.join(fx.outside, "f.txt"), secretText)
    fs.writeFileSync(path.join(fx.outside, "sub", "g.txt"), secretText)
    const race = path.join(fx.root, "race")
    // another process swaps race/real between the folder and a link to the outside, as fast as it can
    const swapper = spawn(process.execPath, ["-e", `
      const fs = require("fs"), path = require("path"), race = ${JSON.stringify(race)}, outside = ${JSON.stringify(fx.outside)}
      for (;;) {
        try { fs.renameSync(path.join(race, "real"), path.join(race, "kept")); fs.symlinkSync(outside, path.join(race, "real")) } catch {}
        try { fs.unlinkSync(path.join(race, "real")); fs.renameSync(path.join(race, "kept"), path.join(race, "real")) } catch {}
      }`], { stdio: "ignore" })
    try {
      let inside = 0
      let outsideReads = 0
      for (let i = 0; i < 6000; i++) {
        const c = confinedReadOnlyFs(fx.root, { maxFileBytes: 1 << 20 })
        for (const attempt of [() => c.ops.readFile(path.join(race, "real", "f.txt")), () => c.ops.readOwnFile(path.join(race, "real", "sub", "g.txt"))]) {
          const content = await attempt().then(String, () => undefined)
          if (content === secretText) outsideReads++
          else if (content === "inside") inside++
        }
        const listed = await c.ops.readdirTypes(path.join(race, "real")).catch(() => [])
        if (listed.some((e) => e.name === "secret.txt")) outsideReads++
      }
      assert.strictEqual(outsideReads, 0)
      assert.isAbove(inside, 0, "the folder was read while it was a folder")
    } finally {
      swapper.kill("SIGKILL")
    }
  }, 60_000)
})

describe("git_status on repositories whose files lead outside", () => {
  const status = (args: Record<string, unknown>) => runWith(fx.root, callTool("git_status", args), { timeout: 10_000 })

  it.live("a tracked symbolic link to an outside file is reported by its own text, never read", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "a\n" })
      fs.symlinkSync(fx.secret, path.join(repo, "leak"))
      commitAll(repo, "link")
      fs.rmSync(path.join(repo, "leak"))
      fs.symlinkSync(path.join(fx.outside, "elsewhere"), path.join(repo, "leak"))
      const output = yield* status({ path: "repo" })
      assert.isUndefined(output.isError, textOf(output))
      assert.deepStrictEqual(structured(output)["unstaged"], [{ path: "leak", change: "modified" }])
      assert.notInclude(textOf(output), secretText)
    }))

  it.live("a .gitignore that is a link is not read (as git), an index that is a link to the outside is refused", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "a\n" })
      fs.writeFileSync(path.join(fx.outside, "ignore-all"), "*\n")
      fs.symlinkSync(path.join(fx.outside, "ignore-all"), path.join(repo, ".gitignore"))
      write(repo, { "new.txt": "n" })
      const output = yield* status({ path: "repo" })
      assert.isUndefined(output.isError, textOf(output))
      assert.sameMembers(structured(output)["untracked"], [".gitignore", "new.txt"])
      fs.renameSync(path.join(repo, ".git", "index"), path.join(fx.outside, "index"))
      fs.symlinkSync(path.join(fx.outside, "index"), path.join(repo, ".git", "index"))
      const refused = yield* status({ path: "repo" })
      assert.isTrue(refused.isError)
      assert.include(textOf(refused), "outside the working directory")
    }))

  it("a call already stopped reads nothing and fails", async () => {
    const repo = path.join(fx.root, "repo")
    repoWith(repo, { "a.txt": "a\n" })
    const found = (await findRepository(fx.root, repo))!
    const controller = new AbortController()
    controller.abort()
    const failure = await readGitStatus({ root: fx.root, repo: found, signal: controller.signal, maxFileBytes: 1 << 20, maxCommits: 10, maxEntries: 10 }).catch((e) => e)
    assert.instanceOf(failure, StatusFailure)
    git(repo, "status")
  })

  it.live("a big work tree: the event loop keeps turning, and tools.timeout stops the call", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      const files: Record<string, string> = {}
      for (let i = 0; i < 4000; i++) files[`d${i % 40}/f${i}.txt`] = `${i}\n`
      repoWith(repo, files)
      // every file changed in size: each is read and hashed
      for (let i = 0; i < 4000; i++) fs.appendFileSync(path.join(repo, `d${i % 40}`, `f${i}.txt`), "more\n")
      let last = performance.now()
      let longestGap = 0
      const timer = setInterval(() => {
        const now = performance.now()
        longestGap = Math.max(longestGap, now - last)
        last = now
      }, 5)
      try {
        const full = yield* runWith(fx.root, callTool("git_status", { path: "repo" }), { timeout: 30_000 })
        assert.isUndefined(full.isError, textOf(full))
        assert.strictEqual(structured(full)["unstaged"].length, 4000)
        // slices of 5 ms: a timer every 5 ms is never kept waiting long, even on a loaded machine
        assert.isBelow(longestGap, 500, "git_status held the event loop")
        const stopped = yield* runWith(fx.root, callTool("git_status", { path: "repo" }), { timeout: 50 })
        assert.isTrue(stopped.isError)
        assert.include(textOf(stopped), "timed out after 50 ms (tools.timeout)")
      } finally {
        clearInterval(timer)
      }
    }), 60_000)
})

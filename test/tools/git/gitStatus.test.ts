/** git_status through the Router on real repositories made in temporary folders. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import type { FileChange } from "../../../src/tools/git/porcelain.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, structured, textOf } from "../fixtures.ts"
import { commitAll, git, gitAllowingFailure, identify, initRepo, repoWith, write } from "./gitRepo.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const status = (args: Record<string, unknown>, tools: Record<string, unknown> = {}) =>
  runWith(fx.root, callTool("git_status", args), { timeout: 5_000, ...tools })

/** A successful status; its JSON text and structured result must agree. */
const statusOf = (args: Record<string, unknown>, tools: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const output = yield* status(args, tools)
    assert.isUndefined(output.isError, textOf(output))
    assert.deepStrictEqual(JSON.parse(textOf(output)), structured(output))
    return structured(output)
  })

const failsWith = (args: Record<string, unknown>, message: string, tools: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const output = yield* status(args, tools)
    assert.isTrue(output.isError)
    assert.strictEqual(textOf(output), message)
  })

const byPath = (list: ReadonlyArray<FileChange>): Array<FileChange> => [...list].sort((a, b) => a.path.localeCompare(b.path))
const repoDir = () => path.join(fx.root, "repo")

const clean = { upstream: null, ahead: 0, behind: 0, staged: [], unstaged: [], untracked: [], conflicted: [] }

describe("git_status: branch and commit", () => {
  it.live("a clean repository", () =>
    Effect.gen(function*() {
      const commit = repoWith(repoDir(), { "a.txt": "a\n" })
      assert.match(commit, /^[0-9a-f]{40}$/)
      assert.deepStrictEqual(yield* statusOf({ path: "repo" }), { path: "repo", branch: "main", detached: false, commit, ...clean })
    }))

  it.live("the working directory itself as the repository, by default path", () =>
    Effect.gen(function*() {
      const commit = repoWith(fx.root, { "a.txt": "a\n" })
      assert.deepStrictEqual(yield* statusOf({}), { path: ".", branch: "main", detached: false, commit, ...clean })
    }))

  it.live("a repository without commits", () =>
    Effect.gen(function*() {
      initRepo(repoDir())
      write(repoDir(), { "staged.txt": "s", "loose.txt": "l" })
      git(repoDir(), "add", "staged.txt")
      const result = yield* statusOf({ path: "repo" })
      assert.strictEqual(result["commit"], null)
      assert.strictEqual(result["branch"], "main")
      assert.isFalse(result["detached"])
      assert.deepStrictEqual(result["staged"], [{ path: "staged.txt", change: "added" }])
      assert.deepStrictEqual(result["untracked"], ["loose.txt"])
    }))

  it.live("a detached HEAD", () =>
    Effect.gen(function*() {
      const commit = repoWith(repoDir(), { "a.txt": "a\n" })
      git(repoDir(), "checkout", "-q", "--detach", "HEAD")
      const result = yield* statusOf({ path: "repo" })
      assert.strictEqual(result["branch"], null)
      assert.isTrue(result["detached"])
      assert.strictEqual(result["commit"], commit)
    }))

  it.live("an upstream one commit ahead and one behind", () =>
    Effect.gen(function*() {
      const origin = path.join(fx.outside, "origin")
      repoWith(origin, { "a.txt": "a\n" })
      const clone = path.join(fx.root, "clone")
      git(fx.root, "clone", "-q", origin, clone)
      identify(clone)
      write(clone, { "mine.txt": "mine" })
      const mine = commitAll(clone, "mine")
      write(origin, { "theirs.txt": "theirs" })
      commitAll(origin, "theirs")
      git(clone, "fetch", "-q")
      const result = yield* statusOf({ path: "clone" })
      assert.deepStrictEqual(result, { path: "clone", branch: "main", detached: false, commit: mine, ...clean, upstream: "origin/main", ahead: 1, behind: 1 })
    }))
})

describe("git_status: changes", () => {
  it.live("staged added, modified, deleted and renamed; unstaged modified and deleted", () =>
    Effect.gen(function*() {
      const repo = repoDir()
      const files = ["mod-staged", "del-staged", "mod-unstaged", "del-unstaged", "mod-both", "old"]
      repoWith(repo, Object.fromEntries(files.map((f) => [`${f}.txt`, `${f} original content\n`])))
      write(repo, { "add-staged.txt": "new", "mod-staged.txt": "changed and staged\n", "mod-both.txt": "staged version\n" })
      git(repo, "add", "add-staged.txt", "mod-staged.txt", "mod-both.txt")
      git(repo, "rm", "-q", "del-staged.txt")
      git(repo, "mv", "old.txt", "new.txt")
      write(repo, { "mod-unstaged.txt": "changed, not staged\n", "mod-both.txt": "then changed again\n" })
      fs.rmSync(path.join(repo, "del-unstaged.txt"))
      const result = yield* statusOf({ path: "repo" })
      assert.deepStrictEqual(byPath(result["staged"]), [
        { path: "add-staged.txt", change: "added" },
        { path: "del-staged.txt", change: "deleted" },
        { path: "mod-both.txt", change: "modified" },
        { path: "mod-staged.txt", change: "modified" },
        { path: "new.txt", change: "renamed", from: "old.txt" }
      ])
      assert.deepStrictEqual(byPath(result["unstaged"]), [
        { path: "del-unstaged.txt", change: "deleted" },
        { path: "mod-both.txt", change: "modified" },
        { path: "mod-unstaged.txt", change: "modified" }
      ])
      assert.deepStrictEqual(result["untracked"], [])
      assert.deepStrictEqual(result["conflicted"], [])
    }))

  it.live("untracked files, including names with spaces and unicode, and untracked folders", () =>
    Effect.gen(function*() {
      repoWith(repoDir(), { "a.txt": "a\n" })
      write(repoDir(), { "with space.txt": "s", "ünïcödé ✓.txt": "u", "newdir/inner.txt": "i", "semi;colon $x.txt": "c" })
      const result = yield* statusOf({ path: "repo" })
      assert.sameMembers(result["untracked"], ["with space.txt", "ünïcödé ✓.txt", "newdir/", "semi;colon $x.txt"])
      assert.deepStrictEqual(result["staged"], [])
    }))

  it.live("a merge conflict", () =>
    Effect.gen(function*() {
      const repo = repoDir()
      repoWith(repo, { "a.txt": "base\n", "b.txt": "b\n" })
      git(repo, "checkout", "-q", "-b", "other")
      write(repo, { "a.txt": "other\n" })
      commitAll(repo, "other")
      git(repo, "checkout", "-q", "main")
      write(repo, { "a.txt": "main\n" })
      commitAll(repo, "main")
      assert.strictEqual(gitAllowingFailure(repo, "merge", "-q", "other"), 1)
      const result = yield* statusOf({ path: "repo" })
      assert.deepStrictEqual(result["conflicted"], ["a.txt"])
      assert.deepStrictEqual(result["staged"], [])
      assert.deepStrictEqual(result["unstaged"], [])
      assert.strictEqual(result["branch"], "main")
    }))

  it.live("a folder inside the repository reports the whole repository, paths from its top", () =>
    Effect.gen(function*() {
      repoWith(repoDir(), { "sub/deep/a.txt": "a\n" })
      write(repoDir(), { "sub/deep/new.txt": "n", "top.txt": "t" })
      const result = yield* statusOf({ path: "repo/sub/deep" })
      assert.strictEqual(result["path"], path.join("repo", "sub", "deep"))
      assert.strictEqual(result["branch"], "main")
      assert.sameMembers(result["untracked"], ["sub/deep/new.txt", "top.txt"])
    }))
})

describe("git_status: refusals and failures", () => {
  it.live("a folder that is not a repository", () =>
    Effect.gen(function*() {
      put(fx.root, "plain/x.txt", "x")
      yield* failsWith({ path: "plain" }, "plain is not a git repository (inside the working directory)")
      yield* failsWith({}, ". is not a git repository (inside the working directory)")
    }))

  it.live("paths outside the working directory are refused", () =>
    Effect.gen(function*() {
      repoWith(path.join(fx.outside, "repo"), { "a.txt": "a\n" })
      const outsideRepo = path.join(fx.outside, "repo")
      yield* failsWith({ path: ".." }, `Path ".." refused: it is outside the working directory ${fx.root}`)
      yield* failsWith({ path: outsideRepo }, `Path ${JSON.stringify(outsideRepo)} refused: it is outside the working directory ${fx.root}`)
      link(fx.root, "linked", outsideRepo)
      yield* failsWith(
        { path: "linked" },
        `Path "linked" refused: it resolves through a symbolic link to ${outsideRepo}, outside the working directory ${fx.root}`
      )
    }))

  it.live("a file or a missing path is an isError result", () =>
    Effect.gen(function*() {
      repoWith(repoDir(), { "a.txt": "a\n" })
      yield* failsWith({ path: "repo/a.txt" }, `${path.join("repo", "a.txt")} is not a directory`)
      yield* failsWith({ path: "missing" }, "missing does not exist")
    }))

  it.live("output over tools.maxOutputBytes is refused naming the setting", () =>
    Effect.gen(function*() {
      repoWith(repoDir(), { "a.txt": "a\n" })
      for (let i = 0; i < 1200; i++) fs.writeFileSync(path.join(repoDir(), `${"n".repeat(240)}-${i}`), "")
      yield* failsWith({ path: "repo" }, "git status output is larger than tools.maxOutputBytes (300 bytes)", { maxOutputBytes: 300 })
    }), 20_000)

  it.live("a filter cannot be planted: writes inside .git are refused", () =>
    Effect.gen(function*() {
      const repo = repoDir()
      repoWith(repo, { "a.txt": "a\n" })
      const configBefore = fs.readFileSync(path.join(repo, ".git", "config"), "utf8")
      const written = yield* runWith(fx.root, callTool("write_file", { path: "repo/.git/config", content: "[filter \"evil\"]\n\tclean = touch x", mode: "append" }))
      assert.isTrue(written.isError)
      assert.include(textOf(written), "inside a .git folder")
      const hook = yield* runWith(fx.root, callTool("write_file", { path: "repo/.GIT/hooks/x", content: "x", createDirs: true }))
      assert.isTrue(hook.isError)
      assert.strictEqual(fs.readFileSync(path.join(repo, ".git", "config"), "utf8"), configBefore)
    }))
})

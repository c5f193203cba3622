/**
 * git_status (in-process, isomorphic-git) against real `git status --porcelain=v2 --branch -z` on the same
 * repositories: every field must agree. The cases cover what status reports: staged and unstaged changes of
 * every kind, modes and symbolic links, untracked and ignored files and folders, unborn and detached HEADs,
 * upstreams (ahead/behind over diverged histories with merges, gone, local), conflicts of every shape.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { type FileChange, parsePorcelainV2 } from "../../../src/tools/git/porcelain.ts"
import { callTool, type Fixture, makeFixture, runWith, structured, textOf } from "../fixtures.ts"
import { execFileSync } from "node:child_process"
import { commitAll, git, gitAllowingFailure, identify, initRepo, repoWith, write } from "./gitRepo.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const sortChanges = (list: ReadonlyArray<FileChange>) => [...list].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))

/** git_status on `relative` and real git's porcelain v2 in the same folder must agree field by field. */
const agrees = (relative: string) =>
  Effect.gen(function*() {
    const output = yield* runWith(fx.root, callTool("git_status", { path: relative }), { timeout: 20_000 })
    assert.isUndefined(output.isError, textOf(output))
    const ours = structured(output)
    const folder = path.join(fx.root, relative)
    const theirs = parsePorcelainV2(git(folder, "--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z"))
    assert.deepStrictEqual(
      { ...ours, staged: sortChanges(ours["staged"]), unstaged: sortChanges(ours["unstaged"]), untracked: [...ours["untracked"]].sort() },
      {
        path: relative,
        ...theirs,
        staged: sortChanges(theirs.staged),
        unstaged: sortChanges(theirs.unstaged),
        untracked: [...theirs.untracked].sort(),
        conflicted: [...theirs.conflicted].sort()
      }
    )
    return ours
  })

const repo = () => path.join(fx.root, "repo")

describe("git_status agrees with git status", () => {
  it.live("a clean repository, and one with every kind of staged and unstaged change", () =>
    Effect.gen(function*() {
      repoWith(repo(), { "a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n", "d.txt": "d\n", "e.txt": "e\n", "old.txt": "moved content\n" })
      yield* agrees("repo")
      write(repo(), { "a.txt": "a2\n", "new.txt": "n\n", "b.txt": "b2\n" })
      git(repo(), "add", "a.txt", "new.txt")
      git(repo(), "rm", "-q", "c.txt")
      fs.rmSync(path.join(repo(), "d.txt"))
      git(repo(), "mv", "old.txt", "renamed.txt")
      write(repo(), { "new.txt": "n2\n" })
      // added then removed from the work tree: AD
      write(repo(), { "gone.txt": "g\n" })
      git(repo(), "add", "gone.txt")
      fs.rmSync(path.join(repo(), "gone.txt"))
      // removed from the index but kept: staged deletion plus untracked
      git(repo(), "rm", "-q", "--cached", "e.txt")
      yield* agrees("repo")
    }))

  it.live("a rename with a later change in the work tree", () =>
    Effect.gen(function*() {
      repoWith(repo(), { "old.txt": "same content here\n" })
      git(repo(), "mv", "old.txt", "new.txt")
      write(repo(), { "new.txt": "same content here\nand more\n" })
      const result = yield* agrees("repo")
      assert.deepStrictEqual(result["staged"], [{ path: "new.txt", change: "renamed", from: "old.txt" }])
    }))

  it.live("modes: the executable bit staged and unstaged; symbolic links retargeted and replacing files", () =>
    Effect.gen(function*() {
      repoWith(repo(), { "run.sh": "echo\n", "staged.sh": "echo\n", "file.txt": "f\n", "target1": "1", "target2": "2", "tofile.txt": "t\n" })
      fs.symlinkSync("target1", path.join(repo(), "link"))
      commitAll(repo(), "link")
      fs.chmodSync(path.join(repo(), "run.sh"), 0o755)
      fs.chmodSync(path.join(repo(), "staged.sh"), 0o755)
      git(repo(), "add", "staged.sh")
      fs.rmSync(path.join(repo(), "link"))
      fs.symlinkSync("target2", path.join(repo(), "link"))
      fs.rmSync(path.join(repo(), "file.txt"))
      fs.symlinkSync("target1", path.join(repo(), "file.txt"))
      fs.rmSync(path.join(repo(), "tofile.txt"))
      fs.symlinkSync("target2", path.join(repo(), "tofile.txt"))
      git(repo(), "add", "tofile.txt")
      const result = yield* agrees("repo")
      assert.deepInclude(result["unstaged"], { path: "file.txt", change: "type-changed" })
    }))

  it.live("a tracked file replaced by a folder", () =>
    Effect.gen(function*() {
      repoWith(repo(), { "thing": "a file\n", "keep.txt": "k\n" })
      fs.rmSync(path.join(repo(), "thing"))
      write(repo(), { "thing/inside.txt": "now a folder\n" })
      yield* agrees("repo")
    }))

  it.live("untracked and ignored: nested folders, ignored folders, negations, info/exclude, nested repositories, empty folders", () =>
    Effect.gen(function*() {
      repoWith(repo(), {
        "tracked/t.txt": "t\n",
        ".gitignore": "*.log\n!keep.log\nbuild/\n",
        "ignoredbutt/tracked.log": "tracked though ignored\n"
      })
      fs.writeFileSync(path.join(repo(), ".git", "info", "exclude"), "secret-notes.txt\n")
      write(repo(), {
        "loose.txt": "l",
        "a/b/c/deep.txt": "d",
        "tracked/new.txt": "n",
        "tracked/sub/newer.txt": "n",
        "only-ignored/x.log": "x",
        "debug.log": "x",
        "keep.log": "k",
        "build/out.bin": "o",
        "secret-notes.txt": "s",
        "ignoredbutt/tracked.log": "changed\n",
        "mixed/ok.txt": "o",
        "mixed/no.log": "n"
      })
      fs.mkdirSync(path.join(repo(), "empty-folder"))
      initRepo(path.join(repo(), "nested"))
      const result = yield* agrees("repo")
      assert.sameMembers(result["untracked"], ["loose.txt", "a/", "tracked/new.txt", "tracked/sub/", "keep.log", "mixed/", "nested/"])
    }))

  it.live("a repository without commits, and a detached HEAD", () =>
    Effect.gen(function*() {
      initRepo(repo())
      write(repo(), { "staged.txt": "s", "loose/x.txt": "l" })
      git(repo(), "add", "staged.txt")
      yield* agrees("repo")
      commitAll(repo(), "first")
      write(repo(), { "staged.txt": "s2" })
      commitAll(repo(), "second")
      git(repo(), "checkout", "-q", "--detach", "HEAD~1")
      yield* agrees("repo")
    }))

  it.live("upstreams: diverged histories with merges, a gone upstream, a local upstream", () =>
    Effect.gen(function*() {
      const origin = path.join(fx.outside, "origin")
      repoWith(origin, { "a.txt": "a\n" })
      const clone = path.join(fx.root, "clone")
      git(fx.root, "clone", "-q", origin, clone)
      identify(clone)
      for (let i = 0; i < 25; i++) {
        write(origin, { [`theirs-${i}.txt`]: `${i}` })
        commitAll(origin, `theirs ${i}`)
      }
      for (let i = 0; i < 12; i++) {
        write(clone, { [`mine-${i}.txt`]: `${i}` })
        commitAll(clone, `mine ${i}`)
        if (i === 5) {
          git(clone, "checkout", "-q", "-b", "side")
          write(clone, { "side.txt": "s" })
          commitAll(clone, "side")
          git(clone, "checkout", "-q", "main")
          git(clone, "merge", "-q", "--no-edit", "side")
        }
      }
      git(clone, "fetch", "-q")
      const result = yield* agrees("clone")
      assert.strictEqual(result["upstream"], "origin/main")
      assert.strictEqual(result["behind"], 25)
      // a merge of the upstream, then more on both sides
      git(clone, "merge", "-q", "--no-edit", "origin/main")
      write(origin, { "late.txt": "l" })
      commitAll(origin, "late")
      git(clone, "fetch", "-q")
      yield* agrees("clone")
      // the upstream ref deleted: git still names it, without ahead/behind
      git(clone, "update-ref", "-d", "refs/remotes/origin/main")
      yield* agrees("clone")
      // a local branch as upstream
      git(clone, "branch", "-q", "base", "HEAD~3")
      git(clone, "branch", "-q", "--set-upstream-to=base")
      const local = yield* agrees("clone")
      assert.strictEqual(local["upstream"], "base")
      // three first-parent commits back, and the 26 commits the merge brought in with them
      assert.strictEqual(local["ahead"], 28)
    }), 60_000)

  it.live("conflicts: both modified, both added, deleted by one side", () =>
    Effect.gen(function*() {
      repoWith(repo(), { "both.txt": "base\n", "deleted.txt": "base\n", "calm.txt": "c\n" })
      git(repo(), "checkout", "-q", "-b", "other")
      write(repo(), { "both.txt": "other\n", "added.txt": "other\n", "deleted.txt": "changed on other\n", "calm.txt": "c2\n" })
      commitAll(repo(), "other")
      git(repo(), "checkout", "-q", "main")
      write(repo(), { "both.txt": "main\n", "added.txt": "main\n" })
      git(repo(), "rm", "-q", "deleted.txt")
      commitAll(repo(), "main")
      assert.strictEqual(gitAllowingFailure(repo(), "merge", "-q", "other"), 1)
      const result = yield* agrees("repo")
      assert.sameMembers(result["conflicted"], ["both.txt", "added.txt", "deleted.txt"])
      assert.deepStrictEqual(result["staged"], [{ path: "calm.txt", change: "modified" }])
    }))

  it.live("ahead/behind over random histories with merges and commits dated in the same second", () =>
    Effect.gen(function*() {
      initRepo(repo())
      const tree = git(repo(), "mktree").trim() || git(repo(), "write-tree").trim()
      // a seeded generator: the same history every run
      let seed = 7
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
      const commits: Array<string> = []
      for (let i = 0; i < 160; i++) {
        const parents = commits.length === 0 ? [] : [commits[Math.floor(random() * commits.length)]!]
        if (commits.length > 3 && random() < 0.3) parents.push(commits[Math.floor(random() * commits.length)]!)
        // dates never go backwards along history; most commits share their second with others
        const date = `${1_700_000_000 + Math.floor(i / 8)} +0000`
        const oid = execFileSync("git", ["commit-tree", tree, ...parents.flatMap((p) => ["-p", p]), "-m", `c${i}`], {
          cwd: repo(),
          env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_COMMITTER_DATE: date, GIT_AUTHOR_DATE: date },
          encoding: "utf8"
        }).trim()
        commits.push(oid)
      }
      for (let pair = 0; pair < 8; pair++) {
        const mine = commits[80 + Math.floor(random() * 80)]!
        const theirs = commits[40 + Math.floor(random() * 120)]!
        git(repo(), "update-ref", "refs/heads/main", mine)
        git(repo(), "update-ref", "refs/remotes/origin/main", theirs)
        git(repo(), "config", "branch.main.remote", "origin")
        git(repo(), "config", "branch.main.merge", "refs/heads/main")
        git(repo(), "config", "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")
        git(repo(), "read-tree", "HEAD")
        const counted = git(repo(), "rev-list", "--left-right", "--count", `${mine}...${theirs}`).trim().split(/\s+/).map(Number)
        const result = yield* agrees("repo")
        assert.deepStrictEqual([result["ahead"], result["behind"]], counted)
      }
    }), 60_000)
})

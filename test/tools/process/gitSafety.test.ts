/**
 * git through execute_command: a repository above the working directory stays invisible, and a
 * repository's own configuration (which the model can write) must not make git run programs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { callTool, type Fixture, makeFixture, put, runWith, secretText, structured, textOf } from "../fixtures.ts"
import { appendConfig, git, repoWith, write } from "../git/gitRepo.ts"
import { execute } from "./processHelpers.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const run = (root: string, args: Record<string, unknown>) => execute(root, args, { timeout: 5_000 })
/** curl is not allowed by default: these tests allow it explicitly. */
const runCurl = (root: string, args: Record<string, unknown>) => execute(root, args, { timeout: 5_000, allowedCommands: ["curl"] })
const gitIn = (cwd: string, ...args: ReadonlyArray<string>) => run(fx.root, { command: "git", args, cwd })

/** Files a hostile configuration created in the outside folder (only secret.txt belongs there). */
const markers = () => fs.readdirSync(fx.outside).filter((name) => name !== "secret.txt").sort()
const marker = (name: string) => path.join(fx.outside, name)

describe("a repository above the working directory", () => {
  it.live("is not visible: git reports no repository instead of the parent's", () =>
    Effect.gen(function*() {
      const outer = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-git-outer-")))
      try {
        repoWith(outer, { "parent.txt": "parent" })
        const root = path.join(outer, "work")
        put(root, "sub/file.txt", "x")
        // without the router's environment git finds the parent repository, so the check below means something
        assert.strictEqual(git(root, "rev-parse", "--show-toplevel").trim(), outer)
        for (const cwd of [".", "sub"]) {
          const output = yield* run(root, { command: "git", args: ["status"], cwd })
          assert.isTrue(output.isError)
          assert.strictEqual(structured(output)["exitCode"], 128)
          assert.include(structured(output)["stderr"], "not a git repository")
          assert.notInclude(structured(output)["stdout"], "parent.txt")
        }
        const log = yield* run(root, { command: "git", args: ["log", "--oneline"] })
        assert.isTrue(log.isError)
        assert.include(structured(log)["stderr"], "not a git repository")
        const status = yield* runWith(root, callTool("git_status", {}))
        assert.isTrue(status.isError)
        assert.strictEqual(textOf(status), ". is not a git repository (inside the working directory)")
      } finally {
        fs.rmSync(outer, { recursive: true, force: true })
      }
    }))

  it.live("a repository inside the working directory is used as usual", () =>
    Effect.gen(function*() {
      repoWith(path.join(fx.root, "repo"), { "a.txt": "a\n" })
      put(fx.root, "repo/new.txt", "n")
      const output = yield* gitIn("repo", "status", "--short")
      assert.isFalse(output.isError, textOf(output))
      assert.strictEqual(structured(output)["stdout"], "?? new.txt\n")
    }))
})

describe("a hostile .git/config", () => {
  it.live("core.fsmonitor, core.pager, pager.* and aliases of builtins do not run on status, log, diff or show", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "one\n" })
      appendConfig(
        repo,
        [
          "[core]",
          `\tfsmonitor = touch ${marker("fsmonitor")}`,
          `\tpager = touch ${marker("core-pager")}`,
          "[pager]",
          `\tlog = touch ${marker("pager-log")}`,
          `\tdiff = touch ${marker("pager-diff")}`,
          "[alias]",
          `\tstatus = !touch ${marker("alias-status")}`,
          `\tlog = !touch ${marker("alias-log")}`,
          `\tdiff = !touch ${marker("alias-diff")}`
        ].join("\n")
      )
      write(repo, { "a.txt": "one\ntwo\n" })
      // git with its usual environment runs the fsmonitor hook, so this configuration is live
      git(repo, "status")
      assert.deepStrictEqual(markers(), ["fsmonitor"])
      fs.rmSync(marker("fsmonitor"))

      // the repository names programs: git is not run in it at all, whatever the subcommand
      for (const args of [["status"], ["log", "-p"], ["show"], ["-p", "log"], ["status", "--porcelain=v2"], ["diff", "--stat"], ["diff"], ["--paginate", "diff"]]) {
        const output = yield* gitIn("repo", ...args)
        assert.isTrue(output.isError, `git ${args.join(" ")}: ${textOf(output)}`)
        assert.include(textOf(output), "git is refused here: the repository repo/.git is not safe to run git in")
        assert.include(textOf(output), "core.fsmonitor")
        assert.include(textOf(output), "pager.log names a pager")
        assert.include(textOf(output), "alias.status runs a shell command")
      }
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("git diff shows a changed file", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "one\n" })
      write(repo, { "a.txt": "one\ntwo\n" })
      const output = yield* gitIn("repo", "diff")
      assert.isFalse(output.isError, textOf(output))
      assert.include(structured(output)["stdout"], "+two")
    }))

  it.live("git diff with no change succeeds", () =>
    Effect.gen(function*() {
      repoWith(path.join(fx.root, "repo"), { "a.txt": "one\n" })
      const output = yield* gitIn("repo", "diff")
      assert.isFalse(output.isError, textOf(output))
      assert.strictEqual(structured(output)["stdout"], "")
    }))

  it.live("an alias with ! does not run", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "one\n" })
      appendConfig(repo, `[alias]\n\tst = !touch ${marker("alias-st")}`)
      yield* gitIn("repo", "st")
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("a diff driver command does not run on git diff", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "one\n", ".gitattributes": "*.txt diff=evil\n" })
      appendConfig(repo, `[diff "evil"]\n\tcommand = touch ${marker("diff-command")}`)
      write(repo, { "a.txt": "one\ntwo\n" })
      yield* gitIn("repo", "diff")
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("a textconv command does not run on git log -p", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "one\n", ".gitattributes": "*.txt diff=conv\n" })
      appendConfig(repo, `[diff "conv"]\n\ttextconv = touch ${marker("textconv")} && cat`)
      yield* gitIn("repo", "log", "-p")
      assert.deepStrictEqual(markers(), [])
    }))
})

describe("git and curl options that run programs or read files", () => {
  it.live("git grep --open-files-in-pager is refused", () =>
    Effect.gen(function*() {
      repoWith(path.join(fx.root, "repo"), { "a.txt": "needle\n" })
      const output = yield* gitIn("repo", "grep", `--open-files-in-pager=touch ${marker("grep-pager")}`, "needle")
      assert.deepStrictEqual(markers(), [])
      assert.isTrue(output.isError)
      assert.include(textOf(output), "refused")
    }))

  it.live("curl -Kfile cannot read a file outside through a file:// URL", () =>
    Effect.gen(function*() {
      put(fx.root, "opts.txt", `url = "file://${fx.secret}"\n`)
      const output = yield* runCurl(fx.root, { command: "curl", args: ["-sKopts.txt"] })
      assert.notInclude(textOf(output), secretText)
      assert.isTrue(output.isError)
    }))

  it.live("curl -K opts.txt (separate value) is refused", () =>
    Effect.gen(function*() {
      put(fx.root, "opts.txt", `url = "file://${fx.secret}"\n`)
      const output = yield* runCurl(fx.root, { command: "curl", args: ["-s", "-K", "opts.txt"] })
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), "curl -K is refused: it reads options from a file")
    }))

  it.live("git init is refused: execute_command runs read-only git subcommands only", () =>
    Effect.gen(function*() {
      const output = yield* run(fx.root, { command: "git", args: ["init", "-q", "-b", "main", "fresh"] })
      assert.isTrue(output.isError)
      assert.match(textOf(output), /^git init is refused: allowed git subcommands are status, log, show, diff, /)
      assert.isFalse(fs.existsSync(path.join(fx.root, "fresh")))
    }))
})

/**
 * execute_command git's arguments: the read-only subcommands, the global options, and every spelling of
 * the options that write a file or run a program (separate, attached, `--long=value`, abbreviations git's
 * option parser accepts, combined short options). Then the read-only subcommands at work on a real
 * repository, and the invocation git gets (overrides, environment).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { gitEnvironment, gitInvocation, gitReadOnlySubcommands, planGitArguments } from "../../../src/tools/process/gitSafety.ts"
import { type Fixture, makeFixture, structured, textOf } from "../fixtures.ts"
import { commitAll, git, repoWith, write } from "../git/gitRepo.ts"
import { execute } from "./processHelpers.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const refusal = (args: ReadonlyArray<string>) => {
  const plan = planGitArguments(args)
  return "refusal" in plan ? plan.refusal : undefined
}

describe("planGitArguments", () => {
  it("global options: a short harmless list; every other one refused, whatever its spelling", () => {
    for (const args of [["--no-pager", "log"], ["-P", "status"], ["-p", "log"], ["--paginate", "diff"], ["--literal-pathspecs", "ls-files"], ["--no-optional-locks", "status"], ["--version"]]) {
      assert.isUndefined(refusal(args), args.join(" "))
    }
    const refused: Record<string, string> = {
      "--git-dir=x": "another repository",
      "--git-dir": "another repository",
      "--work-tree=x": "another repository or work tree",
      "--work-tree": "work tree",
      "-C": "changes the folder",
      "-Cx": "changes the folder",
      "-c": "sets configuration",
      "-ccore.pager=x": "sets configuration",
      "--config-env=core.pager=X": "sets configuration",
      "--exec-path=/tmp": "where git finds the programs",
      "--exec-path": "where git finds the programs",
      "--namespace=x": "how git names refs",
      "--super-prefix=x": "how git names refs",
      "--bare": "the folder itself as a repository",
      "--attr-source=HEAD": "attributes",
      "--git-d=x": "not one of the global options",
      "--work=x": "not one of the global options",
      "--list-cmds=main": "not one of the global options",
      "--html-path": "not one of the global options",
      "-h": "not one of the global options"
    }
    for (const [option, reason] of Object.entries(refused)) {
      const text = refusal([option, "x", "status"])
      assert.include(text, `git ${option} is refused`, option)
      assert.include(text, reason, option)
    }
  })

  it("subcommands: the read-only ones only; aliases, porcelain that writes and everything that runs programs refused", () => {
    for (const sub of gitReadOnlySubcommands) assert.isUndefined(refusal([sub]), sub)
    for (const sub of ["add", "commit", "checkout", "switch", "restore", "reset", "merge", "rebase", "cherry-pick", "revert", "stash", "clone", "fetch", "pull", "push", "init", "config", "submodule", "worktree", "difftool", "mergetool", "help", "cat-file", "archive", "notes", "reflog", "gc", "repack", "bisect", "am", "apply", "credential", "daemon", "upload-pack", "remote", "filter-branch", "st", "STATUS", "Status"]) {
      assert.match(refusal([sub]) ?? "", new RegExp(`^git ${sub} is refused: allowed git subcommands are `), sub)
    }
    assert.match(refusal([]) ?? "", /^git needs a subcommand/)
  })

  it("options that write a file or run a program, in every spelling git accepts", () => {
    const cases: ReadonlyArray<ReadonlyArray<string>> = [
      ["log", "--output=/tmp/x"], ["log", "--output", "x"], ["diff", "--outp=x"], ["show", "--out=x"], ["log", "--o=x"],
      ["diff", "--ext-diff"], ["log", "--ext"], ["show", "--ext-d"], ["diff", "--textconv"], ["log", "--textc"], ["blame", "--te", "a"],
      ["grep", "--open-files-in-pager=vim", "x"], ["grep", "--open=vim", "x"], ["grep", "--op", "x"], ["grep", "-O", "x"], ["grep", "-Ovim", "x"],
      ["grep", "-nO", "x"], ["grep", "-iOvim", "x"], ["log", "--help"], ["status", "--he"], ["ls-files", "--recurse-submodules"],
      ["grep", "--recurse", "x"], ["diff", "--submodule"], ["diff", "--submodule=log"], ["log", "--submodule=diff"], ["diff", "--sub=diff"]
    ]
    for (const args of cases) assert.include(refusal(args), "is refused", args.join(" "))
    // real options that only look like prefixes, values of other options, and everything after --
    const allowed: ReadonlyArray<ReadonlyArray<string>> = [
      ["diff", "--text"], ["diff", "--no-ext-diff"], ["log", "--no-textconv"], ["diff", "--submodule=short"], ["log", "--oneline"],
      ["log", "--stat", "--summary"], ["grep", "-e", "O", "x"], ["grep", "-eOops"], ["grep", "-o", "x"], ["grep", "-fpatterns.txt"],
      ["log", "--", "--output=x"], ["diff", "-O", "order.txt"], ["log", "--format=%H %s"], ["status", "-sb"]
    ]
    for (const args of allowed) assert.isUndefined(refusal(args), args.join(" "))
  })

  it("branch and tag only list", () => {
    for (const args of [["branch"], ["branch", "-a"], ["branch", "-avv"], ["branch", "--list", "feat*"], ["branch", "-l", "x"], ["branch", "--contains", "HEAD"], ["branch", "--merged=main"], ["branch", "--sort=-committerdate", "--format=%(refname)"], ["branch", "--show-current"], ["tag"], ["tag", "-l", "v*"], ["tag", "-n3"], ["tag", "--list", "--contains", "HEAD", "v1*"]]) {
      assert.isUndefined(refusal(args), args.join(" "))
    }
    for (const args of [["branch", "new"], ["branch", "-d", "x"], ["branch", "-D", "x"], ["branch", "-m", "a", "b"], ["branch", "-c", "a", "b"], ["branch", "-f", "x"], ["branch", "-u", "origin/x"], ["branch", "--set-upstream-to=x"], ["branch", "--unset-upstream"], ["branch", "--edit-description"], ["branch", "-t", "x"], ["tag", "v1"], ["tag", "-a", "v1", "-m", "x"], ["tag", "-d", "v1"], ["tag", "-s", "v1"], ["tag", "-v", "v1"], ["tag", "-f", "v1"], ["branch", "--", "x"]]) {
      assert.include(refusal(args), "is refused", args.join(" "))
    }
  })
})

describe("gitInvocation and gitEnvironment", () => {
  it("overrides go first, then --no-optional-locks, the globals, the subcommand and its safety options", async () => {
    const invocation = await gitInvocation(fx.root, fx.root, ["--no-pager", "log", "-p"], { PATH: "/usr/bin", HOME: "/home/x", GIT_DIR: "/x" })
    assert.isFalse("refusal" in invocation)
    if ("refusal" in invocation) return
    const at = invocation.args.indexOf("--no-optional-locks")
    assert.deepStrictEqual(invocation.args.slice(at), ["--no-optional-locks", "--no-pager", "log", "--no-ext-diff", "--no-textconv", "-p"])
    const overrides = invocation.args.slice(0, at).filter((_, i) => i % 2 === 1)
    assert.includeMembers(overrides, ["core.hooksPath=/dev/null", "core.fsmonitor=false", "core.pager=cat", "credential.helper=", "protocol.allow=never", "safe.bareRepository=explicit"])
    assert.isTrue(invocation.args.slice(0, at).every((arg, i) => (i % 2 === 0 ? arg === "-c" : arg.includes("="))))
  })

  it("the environment: no GIT_* from the router, configuration files off, discovery stopped at the working directory", () => {
    const env = gitEnvironment({ PATH: "/usr/bin", HOME: "/home/x", GIT_DIR: "/x", GIT_CONFIG_PARAMETERS: "'a'='b'", GIT_EXTERNAL_DIFF: "x", XDG_CONFIG_HOME: "/x", EDITOR: "vi" }, fx.root)
    assert.strictEqual(env["PATH"], "/usr/bin")
    assert.strictEqual(env["HOME"], fx.root)
    for (const name of ["GIT_DIR", "GIT_CONFIG_PARAMETERS", "GIT_EXTERNAL_DIFF", "XDG_CONFIG_HOME", "EDITOR", "GIT_ASKPASS", "GIT_SSH_COMMAND"]) assert.isUndefined(env[name], name)
    assert.strictEqual(env["GIT_CONFIG_GLOBAL"], "/dev/null")
    assert.strictEqual(env["GIT_CONFIG_NOSYSTEM"], "1")
    assert.strictEqual(env["GIT_CEILING_DIRECTORIES"], path.dirname(fx.root))
    assert.strictEqual(env["GIT_TERMINAL_PROMPT"], "0")
    assert.strictEqual(env["GIT_PAGER"], "cat")
  })
})

describe("the read-only subcommands at work", () => {
  const run = (args: ReadonlyArray<string>, cwd = "repo") => execute(fx.root, { command: "git", args, cwd }, { timeout: 10_000 })

  it.live("status, log, show, diff, blame, grep, ls-files, ls-tree, rev-parse, describe, branch, tag, for-each-ref, version", () =>
    Effect.gen(function*() {
      const repo = path.join(fx.root, "repo")
      repoWith(repo, { "a.txt": "needle one\n" })
      git(repo, "tag", "v1")
      write(repo, { "a.txt": "needle one\nneedle two\n" })
      commitAll(repo, "second")
      write(repo, { "a.txt": "needle one\nneedle two\nthree\n" })
      const expectations: ReadonlyArray<readonly [ReadonlyArray<string>, string]> = [
        [["status", "--short"], " M a.txt"],
        [["log", "--format=%s"], "second\ninitial"],
        [["show", "--stat", "--format=%s"], "second"],
        [["diff"], "+three"],
        [["diff", "HEAD~1", "--stat"], "a.txt"],
        [["blame", "-s", "a.txt"], "needle two"],
        [["grep", "-n", "needle"], "a.txt:2:needle two"],
        [["ls-files"], "a.txt"],
        [["ls-tree", "HEAD"], "a.txt"],
        [["rev-parse", "--abbrev-ref", "HEAD"], "main"],
        [["describe", "--tags"], "v1-1-g"],
        [["branch", "--list"], "* main"],
        [["tag", "-l"], "v1"],
        [["for-each-ref", "--format=%(refname)"], "refs/heads/main"],
        [["version"], "git version"],
        [["--version"], "git version"]
      ]
      for (const [args, expected] of expectations) {
        const output = yield* run(args)
        assert.isFalse(output.isError, `git ${args.join(" ")}: ${textOf(output)}`)
        assert.include(structured(output)["stdout"], expected, `git ${args.join(" ")}`)
      }
      // status does not write the index (no optional locks); branch and tag create nothing
      const before = fs.statSync(path.join(repo, ".git", "index")).mtimeMs
      yield* run(["status"])
      assert.strictEqual(fs.statSync(path.join(repo, ".git", "index")).mtimeMs, before)
      for (const args of [["branch", "new"], ["tag", "v2"], ["log", "--output=out.txt"], ["diff", "--output=out.txt"]]) {
        const output = yield* run(args)
        assert.isTrue(output.isError, args.join(" "))
      }
      assert.deepStrictEqual(git(repo, "branch", "--format=%(refname:short)").trim(), "main")
      assert.deepStrictEqual(git(repo, "tag").trim(), "v1")
      assert.isFalse(fs.existsSync(path.join(repo, "out.txt")))
    }))

  it.live("a bare repository is not used implicitly, even a benign one", () =>
    Effect.gen(function*() {
      git(fx.root, "init", "-q", "--bare", "plain.git")
      git(fx.root, "init", "-q", "--bare", "other")
      for (const cwd of ["plain.git", "other"]) {
        const output = yield* run(["log"], cwd)
        assert.isTrue(output.isError)
        assert.include(structured(output)["stderr"], "cannot use bare repository")
      }
    }))
})

/**
 * No tool runs a program that workspace content names, and nothing outside the working directory is read
 * or written through git: one test per item of the class (issue 11), on real repositories with real git.
 *
 * Each hostile configuration writes a marker file in the outside folder when the program it names runs.
 * Where it can be shown, a control first proves the configuration is live (plain git, as a careless tool
 * would run it, creates the marker); then execute_command git (every read-only subcommand) and git_status
 * must leave no marker: execute_command refuses to run git in such a repository, git_status reads it
 * in-process (or refuses a repository that points outside).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { callTool, type Fixture, makeFixture, runWith, secretText, structured, textOf } from "../fixtures.ts"
import { appendConfig, commitAll, git, gitAllowingFailure, repoWith, write } from "../git/gitRepo.ts"
import { execute, withEnv } from "./processHelpers.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

/** Files a hostile configuration created in the outside folder (only secret.txt belongs there). */
const markers = () => fs.readdirSync(fx.outside).filter((name) => name !== "secret.txt" && name !== "other").sort()
const marker = (name: string) => path.join(fx.outside, name)
/** A shell command that leaves a marker, quoted for a git config value. */
const touch = (name: string, then = "") => `"touch '${marker(name)}'${then}"`

const repoPath = () => path.join(fx.root, "repo")

const withoutEditor = (env: NodeJS.ProcessEnv) => {
  const { GIT_EDITOR: _editor, VISUAL: _visual, EDITOR: _e, ...rest } = env
  return rest
}

/** Plain git with the process environment, as an unguarded tool would run it; never throws. */
const plainGit = (cwd: string, args: ReadonlyArray<string>, input?: string) => {
  try {
    execFileSync("git", [...args], {
      cwd,
      env: { ...withoutEditor(process.env), GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1", GIT_TERMINAL_PROMPT: "0" },
      input: input ?? "",
      stdio: ["pipe", "pipe", "pipe"],
      timeout: 10_000
    })
  } catch {
    // the hostile program may make git fail; only the marker matters
  }
}

/** The control: plain git creates the marker, so the configuration is live; the marker is then removed. */
const control = (name: string, cwd: string, args: ReadonlyArray<string>, input?: string) => {
  plainGit(cwd, args, input)
  assert.include(markers(), name, `control: plain git ${args.join(" ")} should have run the configured program`)
  fs.rmSync(marker(name))
}

const run = (args: Record<string, unknown>, tools: Record<string, unknown> = {}) => execute(fx.root, args, { timeout: 10_000, ...tools })
const gitStatus = (args: Record<string, unknown>) => runWith(fx.root, callTool("git_status", args), { timeout: 10_000 })

/** Every read-only subcommand execute_command allows, in the forms that would trigger each program. */
const readOnlyRuns: ReadonlyArray<ReadonlyArray<string>> = [
  ["status"], ["status", "--porcelain=v2"], ["diff"], ["diff", "HEAD"], ["diff", "--cached"], ["log", "-p"], ["show"],
  ["blame", "a.txt"], ["grep", "-n", "a"], ["ls-files"], ["describe", "--always", "--dirty"], ["-p", "log"], ["shortlog", "HEAD"],
  ["diff-files", "-p"], ["diff-index", "-p", "HEAD"], ["branch", "--list"], ["rev-parse", "HEAD"]
]

/** execute_command git refuses every read-only subcommand in `cwd`, naming `mention`; nothing ran. */
const gitRefusedIn = (cwd: string, mention: string) =>
  Effect.gen(function*() {
    for (const args of readOnlyRuns) {
      const output = yield* run({ command: "git", args, cwd })
      assert.isTrue(output.isError, `git ${args.join(" ")} ran: ${textOf(output)}`)
      assert.include(textOf(output), "git is refused here", `git ${args.join(" ")}`)
      assert.include(textOf(output).toLowerCase(), mention.toLowerCase(), `git ${args.join(" ")}`)
      assert.isUndefined(structured(output)["exitCode"], "git must not have started")
    }
    assert.deepStrictEqual(markers(), [])
  })

/** git_status reads the repository without running anything. */
const gitStatusRunsNothing = (relative: string) =>
  Effect.gen(function*() {
    const output = yield* gitStatus({ path: relative })
    assert.isUndefined(output.isError, textOf(output))
    assert.deepStrictEqual(markers(), [])
    return structured(output)
  })

/** git_status refuses, naming `mention`, and reads nothing outside. */
const gitStatusRefused = (relative: string, mention: string) =>
  Effect.gen(function*() {
    const output = yield* gitStatus({ path: relative })
    assert.isTrue(output.isError, textOf(output))
    assert.include(textOf(output), mention)
    assert.notInclude(textOf(output), secretText)
    assert.deepStrictEqual(markers(), [])
  })

/** Back to the configuration git init writes. */
const resetConfig = (repo: string) =>
  fs.writeFileSync(path.join(repo, ".git", "config"), "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n")

/** A repository with a.txt committed and then changed (so status, diff and filters have work to do). */
const changedRepo = (files: Record<string, string> = {}) => {
  repoWith(repoPath(), { "a.txt": "one\n", ...files })
  write(repoPath(), { "a.txt": "one\ntwo\n" })
  return repoPath()
}

describe("programs named by a repository's configuration never run", () => {
  it.live("clean filter", () =>
    Effect.gen(function*() {
      const repo = changedRepo({ ".gitattributes": "* filter=pwn\n" })
      appendConfig(repo, `[filter "pwn"]\n\tclean = ${touch("clean", "; cat")}`)
      control("clean", repo, ["add", "a.txt"])
      yield* gitRefusedIn("repo", "filter.pwn.clean")
      write(repo, { "a.txt": "one\ntwo\nthree\n" })
      const status = yield* gitStatusRunsNothing("repo")
      assert.deepStrictEqual(status["staged"], [{ path: "a.txt", change: "modified" }])
      assert.deepStrictEqual(status["unstaged"], [{ path: "a.txt", change: "modified" }])
    }))

  it.live("smudge filter", () =>
    Effect.gen(function*() {
      const repo = changedRepo({ ".gitattributes": "* filter=pwn\n" })
      appendConfig(repo, `[filter "pwn"]\n\tsmudge = ${touch("smudge", "; cat")}`)
      fs.rmSync(path.join(repo, "a.txt"))
      control("smudge", repo, ["checkout", "--", "a.txt"])
      yield* gitRefusedIn("repo", "filter.pwn.smudge")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("process filter", () =>
    Effect.gen(function*() {
      const repo = changedRepo({ ".gitattributes": "* filter=pwn\n" })
      appendConfig(repo, `[filter "pwn"]\n\tprocess = ${touch("process")}\n\trequired = false`)
      control("process", repo, ["add", "a.txt"])
      yield* gitRefusedIn("repo", "filter.pwn.process")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("diff textconv", () =>
    Effect.gen(function*() {
      const repo = changedRepo({ ".gitattributes": "*.txt diff=conv\n" })
      appendConfig(repo, `[diff "conv"]\n\ttextconv = ${touch("textconv", "; cat")}`)
      control("textconv", repo, ["log", "-p"])
      yield* gitRefusedIn("repo", "diff.conv.textconv")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("external diff: diff.external and a diff driver's command", () =>
    Effect.gen(function*() {
      const repo = changedRepo({ ".gitattributes": "*.txt diff=ext\n" })
      appendConfig(repo, `[diff]\n\texternal = ${touch("external")}`)
      control("external", repo, ["diff"])
      yield* gitRefusedIn("repo", "diff.external")
      resetConfig(repo)
      appendConfig(repo, `[diff "ext"]\n\tcommand = ${touch("command")}`)
      control("command", repo, ["diff"])
      yield* gitRefusedIn("repo", "diff.ext.command")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("merge driver", () =>
    Effect.gen(function*() {
      const repo = repoPath()
      repoWith(repo, { "a.txt": "base\n", ".gitattributes": "* merge=pwn\n" })
      git(repo, "checkout", "-q", "-b", "other")
      write(repo, { "a.txt": "other\n" })
      commitAll(repo, "other")
      git(repo, "checkout", "-q", "main")
      write(repo, { "a.txt": "main\n" })
      commitAll(repo, "main")
      appendConfig(repo, `[merge "pwn"]\n\tdriver = ${touch("merge", "; false")}`)
      control("merge", repo, ["merge", "other"])
      gitAllowingFailure(repo, "merge", "--abort")
      yield* gitRefusedIn("repo", "merge.pwn.driver")
      const merge = yield* run({ command: "git", args: ["merge", "other"], cwd: "repo" })
      assert.isTrue(merge.isError)
      assert.include(textOf(merge), "git merge is refused")
      yield* gitStatusRunsNothing("repo")
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("hooks in the git directory", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      for (const hook of ["pre-commit", "post-index-change", "reference-transaction", "post-checkout"]) {
        fs.writeFileSync(path.join(repo, ".git", "hooks", hook), `#!/bin/sh\ntouch '${marker("hook")}'\n`, { mode: 0o755 })
      }
      control("hook", repo, ["commit", "-q", "--allow-empty", "-m", "x"])
      yield* gitRefusedIn("repo", "a hook: git runs it as a program")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("a repository with only the sample hooks git installs is fine", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      assert.isTrue(fs.readdirSync(path.join(repo, ".git", "hooks")).length > 0, "git installs sample hooks")
      const output = yield* run({ command: "git", args: ["status", "--short"], cwd: "repo" })
      assert.isFalse(output.isError, textOf(output))
      assert.strictEqual(structured(output)["stdout"], " M a.txt\n")
    }))

  it.live("core.hooksPath", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      write(repo, { "myhooks/pre-commit": `#!/bin/sh\ntouch '${marker("hookspath")}'\n` })
      fs.chmodSync(path.join(repo, "myhooks", "pre-commit"), 0o755)
      appendConfig(repo, "[core]\n\thooksPath = myhooks")
      control("hookspath", repo, ["commit", "-q", "--allow-empty", "-m", "x"])
      yield* gitRefusedIn("repo", "core.hookspath")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("core.fsmonitor", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[core]\n\tfsmonitor = ${touch("fsmonitor")}`)
      control("fsmonitor", repo, ["status"])
      yield* gitRefusedIn("repo", "core.fsmonitor")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("pagers: core.pager and pager.<command>", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      // a pager runs only on a terminal, so there is no control here: the configuration is refused anyway
      appendConfig(repo, `[core]\n\tpager = ${touch("pager")}\n[pager]\n\tlog = ${touch("pager-log")}`)
      yield* gitRefusedIn("repo", "core.pager")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("editors: core.editor and sequence.editor", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[core]\n\teditor = ${touch("editor")}`)
      control("editor", repo, ["commit", "-q", "--allow-empty"])
      yield* gitRefusedIn("repo", "core.editor")
      resetConfig(repo)
      appendConfig(repo, `[sequence]\n\teditor = ${touch("sequence-editor")}`)
      yield* gitRefusedIn("repo", "sequence.editor")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("core.sshCommand", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[core]\n\tsshCommand = ${touch("ssh")}\n[remote "origin"]\n\turl = ssh://example.invalid/x.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*`)
      control("ssh", repo, ["fetch", "origin"])
      yield* gitRefusedIn("repo", "core.sshcommand")
      const fetch = yield* run({ command: "git", args: ["fetch", "origin"], cwd: "repo" })
      assert.include(textOf(fetch), "git fetch is refused")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("credential helpers", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[credential]\n\thelper = "!touch '${marker("credential")}'"`)
      control("credential", repo, ["credential", "fill"], "protocol=https\nhost=example.invalid\n\n")
      yield* gitRefusedIn("repo", "credential.helper")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("include.path and includeIf, inside and outside the working directory", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      write(fx.root, { "evil.cfg": `[core]\n\tfsmonitor = ${touch("included")}\n` })
      appendConfig(repo, `[include]\n\tpath = ${path.join(fx.root, "evil.cfg")}`)
      control("included", repo, ["status"])
      yield* gitRefusedIn("repo", "include.path includes another configuration file")
      resetConfig(repo)
      fs.writeFileSync(path.join(fx.outside, "other"), `[core]\n\tfsmonitor = ${touch("included-if")}\n`)
      appendConfig(repo, `[includeIf "gitdir:${fx.root}/"]\n\tpath = ${path.join(fx.outside, "other")}`)
      control("included-if", repo, ["status"])
      yield* gitRefusedIn("repo", "includeIf")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("aliases with !, and subcommands that are not read-only", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[alias]\n\tst = "!touch '${marker("alias")}'"`)
      control("alias", repo, ["st"])
      yield* gitRefusedIn("repo", "alias.st runs a shell command")
      for (const sub of ["st", "add", "commit", "checkout", "config", "submodule", "difftool", "fetch", "pull", "push", "clone", "init", "rebase", "am", "apply", "stash", "worktree", "credential", "help", "bisect", "filter-branch", "cat-file", "archive", "notes"]) {
        const output = yield* run({ command: "git", args: [sub], cwd: "repo" })
        assert.isTrue(output.isError)
        assert.include(textOf(output), `git ${sub} is refused: allowed git subcommands are`)
      }
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("remote upload-pack and signing programs", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      const origin = path.join(fx.root, "origin")
      repoWith(origin, { "o.txt": "o" })
      appendConfig(repo, `[remote "origin"]\n\turl = ${origin}\n\tuploadpack = ${touch("uploadpack")}`)
      control("uploadpack", repo, ["fetch", "origin"])
      yield* gitRefusedIn("repo", "remote.origin.uploadpack names a program")
      fs.writeFileSync(path.join(repo, ".git", "config"), `[gpg]\n\tprogram = ${touch("gpg")}\n[log]\n\tshowSignature = true\n`)
      yield* gitRefusedIn("repo", "gpg.program")
      yield* gitStatusRunsNothing("repo")
    }))

  it.live("a hostile configuration written as git writes it, or with the syntax a careless reader misses", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      const spellings = [
        `[core] fsmonitor = ${touch("s1")}`,
        `[CORE]\n\tFSMonitor = ${touch("s2")}`,
        `[core]\n\tfsmonitor = "touch \\\n'${marker("s3")}'"`,
        `[core "x"]\n[core]fsmonitor=${touch("s4")}`
      ]
      for (const [i, spelling] of spellings.entries()) {
        fs.writeFileSync(path.join(repo, ".git", "config"), `[core]\n\trepositoryformatversion = 0\n${spelling}\n`)
        control(`s${i + 1}`, repo, ["status"])
        const output = yield* run({ command: "git", args: ["status"], cwd: "repo" })
        assert.isTrue(output.isError, `spelling ${i + 1} ran git`)
        assert.include(textOf(output), "core.fsmonitor")
      }
      // a configuration git cannot read is refused too (git would stop on it)
      fs.writeFileSync(path.join(repo, ".git", "config"), "[core\n")
      const broken = yield* run({ command: "git", args: ["status"], cwd: "repo" })
      assert.include(textOf(broken), "is not a valid git configuration")
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("a submodule's own configuration", () =>
    Effect.gen(function*() {
      const lib = path.join(fx.root, "lib-origin")
      repoWith(lib, { "l.txt": "l\n" })
      const repo = changedRepo()
      git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", lib, "vendor/lib")
      commitAll(repo, "submodule")
      write(repo, { "vendor/lib/l.txt": "changed\n" })
      fs.appendFileSync(path.join(repo, ".git", "modules", "vendor", "lib", "config"), `\n[core]\n\tfsmonitor = ${touch("submodule")}\n`)
      control("submodule", repo, ["status"])
      yield* gitRefusedIn("repo", "repo/.git/modules/vendor/lib")
      yield* gitStatusRunsNothing("repo")
    }), 30_000)

  it.live("a decoy .git that git skips does not hide the hostile repository above it", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[core]\n\tfsmonitor = ${touch("decoy")}`)
      // a .git folder git does not accept (no HEAD): git climbs past it to the repository above
      write(repo, { "sub/.git/objects/x": "", "sub/.git/refs/x": "", "sub/s.txt": "s" })
      control("decoy", path.join(repo, "sub"), ["status"])
      yield* gitRefusedIn("repo/sub", "core.fsmonitor")
      assert.deepStrictEqual(markers(), [])
    }))
})

describe("nothing outside the working directory is reached through git", () => {
  it.live("core.worktree outside", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      appendConfig(repo, `[core]\n\tworktree = ${fx.outside}`)
      // plain git would list (and could add, show and check out) the outside folder's files
      assert.include(git(repo, "status", "--porcelain"), "secret.txt")
      yield* gitRefusedIn("repo", `outside the working directory`)
      yield* gitStatusRefused("repo", `core.worktree (in repo/.git/config) ${fx.outside} is outside the working directory`)
    }))

  it.live("a .git file whose gitdir: is outside, and a .git symbolic link to an outside repository", () =>
    Effect.gen(function*() {
      const outsideRepo = path.join(fx.outside, "other")
      repoWith(outsideRepo, { "theirs.txt": "t" })
      write(fx.root, { "proj/.git": `gitdir: ${path.join(outsideRepo, ".git")}\n`, "proj/p.txt": "p" })
      assert.include(git(path.join(fx.root, "proj"), "status", "--porcelain"), "theirs.txt")
      yield* gitRefusedIn("proj", "outside the working directory")
      yield* gitStatusRefused("proj", "is outside the working directory")
      fs.mkdirSync(path.join(fx.root, "linked"))
      fs.symlinkSync(path.join(outsideRepo, ".git"), path.join(fx.root, "linked", ".git"))
      yield* gitRefusedIn("linked", "outside the working directory")
      yield* gitStatusRefused("linked", "is outside the working directory")
    }))

  it.live("objects/info/alternates and commondir outside", () =>
    Effect.gen(function*() {
      const outsideRepo = path.join(fx.outside, "other")
      repoWith(outsideRepo, { "secret-copy.txt": secretText })
      const blob = git(outsideRepo, "rev-parse", "HEAD:secret-copy.txt").trim()
      const repo = changedRepo()
      fs.writeFileSync(path.join(repo, ".git", "objects", "info", "alternates"), `${path.join(outsideRepo, ".git", "objects")}\n`)
      assert.strictEqual(git(repo, "cat-file", "-p", blob), secretText)
      yield* gitRefusedIn("repo", "outside the working directory")
      const show = yield* run({ command: "git", args: ["show", blob], cwd: "repo" })
      assert.notInclude(textOf(show), secretText)
      yield* gitStatusRefused("repo", "outside the working directory")
      fs.rmSync(path.join(repo, ".git", "objects", "info", "alternates"))
      fs.writeFileSync(path.join(repo, ".git", "commondir"), `${path.join(outsideRepo, ".git")}\n`)
      yield* gitRefusedIn("repo", "outside the working directory")
      yield* gitStatusRefused("repo", "outside the working directory")
    }))

  it.live("include, excludesFile and other file settings pointing outside", () =>
    Effect.gen(function*() {
      const repo = changedRepo()
      for (const setting of [`[core]\n\texcludesFile = ${fx.secret}`, `[core]\n\tattributesFile = ~/attributes`, `[mailmap]\n\tfile = ${fx.secret}`, `[blame]\n\tignoreRevsFile = ../../../x`]) {
        fs.writeFileSync(path.join(repo, ".git", "config"), `[core]\n\trepositoryformatversion = 0\n${setting}\n`)
        const output = yield* run({ command: "git", args: ["log"], cwd: "repo" })
        assert.isTrue(output.isError, setting)
        assert.include(textOf(output), "outside the working directory", setting)
      }
    }))

  it.live("--git-dir, --work-tree, -C, -c and the other globals, in every spelling", () =>
    Effect.gen(function*() {
      const outsideRepo = path.join(fx.outside, "other")
      repoWith(outsideRepo, { "theirs.txt": "t" })
      changedRepo()
      const spellings = [
        ["--git-dir", path.join(outsideRepo, ".git"), "status"], [`--git-dir=${path.join(outsideRepo, ".git")}`, "status"],
        ["--work-tree", fx.outside, "status"], [`--work-tree=${fx.outside}`, "status"], ["-C", outsideRepo, "status"],
        [`-C${outsideRepo}`, "status"], ["-c", "core.fsmonitor=x", "status"], ["-ccore.fsmonitor=x", "status"],
        ["--config-env=core.fsmonitor=HOME", "status"], ["--exec-path=/tmp", "status"], ["--namespace=x", "status"],
        ["--super-prefix=x/", "status"], ["--bare", "status"], ["--attr-source=HEAD", "status"], ["--git-d=x", "status"],
        ["--no-pager", "--git-dir=x", "status"]
      ]
      for (const args of spellings) {
        const output = yield* run({ command: "git", args, cwd: "repo" })
        assert.isTrue(output.isError, args.join(" "))
        assert.include(textOf(output), "refused", args.join(" "))
        assert.notInclude(textOf(output), "theirs.txt")
        assert.notInclude(textOf(output), "secret.txt")
      }
    }))

  it.live("the router's own GIT_* environment does not reach git", () =>
    Effect.gen(function*() {
      const outsideRepo = path.join(fx.outside, "other")
      repoWith(outsideRepo, { "theirs.txt": "t" })
      const repo = changedRepo()
      const hostile = {
        GIT_DIR: path.join(outsideRepo, ".git"),
        GIT_WORK_TREE: outsideRepo,
        GIT_CONFIG_PARAMETERS: `'core.fsmonitor'='touch ${marker("env-parameters")}'`,
        GIT_CONFIG_COUNT: "1",
        GIT_CONFIG_KEY_0: "core.pager",
        GIT_CONFIG_VALUE_0: `touch ${marker("env-count")}`,
        GIT_EXTERNAL_DIFF: `touch ${marker("env-external")}`,
        GIT_PAGER: `touch ${marker("env-pager")}`,
        GIT_EDITOR: `touch ${marker("env-editor")}`,
        GIT_SSH_COMMAND: `touch ${marker("env-ssh")}`,
        GIT_ASKPASS: `touch ${marker("env-askpass")}`,
        GIT_TRACE: marker("env-trace"),
        GIT_ALTERNATE_OBJECT_DIRECTORIES: path.join(outsideRepo, ".git", "objects"),
        GIT_CEILING_DIRECTORIES: ""
      }
      yield* withEnv(hostile, Effect.gen(function*() {
        // plain git with this environment would use the outside repository and run the fsmonitor
        plainGitWithEnv(repo, ["status", "--porcelain"], hostile)
        assert.include(markers(), "env-parameters")
        for (const name of markers()) fs.rmSync(marker(name), { recursive: true, force: true })
        for (const args of [["status", "--porcelain"], ["diff"], ["log", "-p"], ["show"]]) {
          const output = yield* run({ command: "git", args, cwd: "repo" })
          assert.isFalse(output.isError, `git ${args.join(" ")}: ${textOf(output)}`)
          assert.notInclude(structured(output)["stdout"], "theirs.txt")
        }
        const status = yield* run({ command: "git", args: ["status", "--porcelain"], cwd: "repo" })
        assert.strictEqual(structured(status)["stdout"], " M a.txt\n")
        const result = yield* gitStatusRunsNothing("repo")
        assert.deepStrictEqual(result["unstaged"], [{ path: "a.txt", change: "modified" }])
      }))
      assert.deepStrictEqual(markers(), [])
    }))
})

/** plainGit with extra environment variables. */
const plainGitWithEnv = (cwd: string, args: ReadonlyArray<string>, env: Record<string, string>) => {
  try {
    execFileSync("git", [...args], { cwd, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 })
  } catch {
    // only the marker matters
  }
}

describe("a bare repository under another name: the attacks of issue 11", () => {
  it.live("git init --bare evil; write_file evil/config (filter); .gitattributes; git --git-dir=evil --work-tree=. add a.txt", () =>
    Effect.gen(function*() {
      write(fx.root, { "a.txt": "content\n" })
      const init = yield* run({ command: "git", args: ["init", "--bare", "evil"] })
      assert.isTrue(init.isError)
      assert.include(textOf(init), "git init is refused")
      // made directly, as if it had been there
      git(fx.root, "init", "-q", "--bare", "evil")
      const config = `[filter "pwn"]\n\tclean = "id > '${marker("pwned")}'; cat"\n`
      for (const file of ["evil/config", "evil/hooks/post-update", "evil/objects/info/alternates", "evil/info/attributes", "evil/HEAD", "evil/refs/heads/x", "evil/commondir"]) {
        const written = yield* runWith(fx.root, callTool("write_file", { path: file, content: config, mode: "overwrite", createDirs: true }))
        assert.isTrue(written.isError, `${file} was written`)
        assert.include(textOf(written), "it is inside evil, a git directory", file)
      }
      const attributes = yield* runWith(fx.root, callTool("write_file", { path: ".gitattributes", content: "* filter=pwn\n" }))
      assert.isUndefined(attributes.isError, "a .gitattributes file is ordinary content")
      const add = yield* run({ command: "git", args: ["--git-dir=evil", "--work-tree=.", "add", "a.txt"] })
      assert.isTrue(add.isError)
      assert.include(textOf(add), "git --git-dir=evil is refused")
      // the configuration planted anyway (pre-existing content): git is still refused there, git_status runs nothing
      fs.appendFileSync(path.join(fx.root, "evil", "config"), config)
      control("pwned", fx.root, ["--git-dir=evil", "--work-tree=.", "add", "a.txt"])
      for (const cwd of ["evil", "."]) {
        const output = yield* run({ command: "git", args: ["status"], cwd })
        assert.isTrue(output.isError, `git status in ${cwd}`)
      }
      const status = yield* gitStatus({ path: "evil" })
      assert.isTrue(status.isError)
      assert.include(textOf(status), "has no work tree")
      assert.deepStrictEqual(markers(), [])
    }))

  it.live("git_status {path: evil}: a non-bare evil with core.worktree=.., a filter, a changed tracked file", () =>
    Effect.gen(function*() {
      write(fx.root, { "a.txt": "content\n", ".gitattributes": "* filter=pwn\n" })
      git(fx.root, "init", "-q", "--bare", "evil")
      git(path.join(fx.root, "evil"), "config", "core.bare", "false")
      git(path.join(fx.root, "evil"), "config", "core.worktree", "..")
      execFileSync("git", ["--git-dir=evil", "--work-tree=.", "add", "a.txt", ".gitattributes"], { cwd: fx.root, env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null" } })
      fs.appendFileSync(path.join(fx.root, "evil", "config"), `[filter "pwn"]\n\tclean = "id > '${marker("pwned")}'; cat"\n`)
      write(fx.root, { "a.txt": "changed\n" })
      control("pwned", path.join(fx.root, "evil"), ["status"])
      const result = yield* gitStatusRunsNothing("evil")
      assert.deepStrictEqual(result["staged"], [{ path: ".gitattributes", change: "added" }, { path: "a.txt", change: "added" }])
      assert.deepStrictEqual(result["unstaged"], [{ path: "a.txt", change: "modified" }])
      yield* gitRefusedIn("evil", "filter.pwn.clean")
    }))

  it.live("core.worktree outside: git add + git show cannot read an outside file, git checkout cannot write one", () =>
    Effect.gen(function*() {
      git(fx.root, "init", "-q", "--bare", "evil")
      git(path.join(fx.root, "evil"), "config", "core.bare", "false")
      git(path.join(fx.root, "evil"), "config", "core.worktree", fx.outside)
      for (const args of [["add", "secret.txt"], ["show", ":secret.txt"], ["cat-file", "-p", ":secret.txt"], ["checkout", "--", "x"], ["status"], ["diff"]]) {
        const output = yield* run({ command: "git", args, cwd: "evil" })
        assert.isTrue(output.isError, args.join(" "))
        assert.notInclude(textOf(output), secretText)
        assert.notInclude(JSON.stringify(structured(output)), secretText)
      }
      yield* gitStatusRefused("evil", `is outside the working directory`)
      assert.deepStrictEqual(fs.readdirSync(fx.outside).sort(), ["secret.txt"])
    }))
})

/**
 * Every spelling of every option that names a file, for every allowlisted program that takes files,
 * tried through execute_command with real programs against files and folders outside the working
 * directory: /etc/hostname and /etc, the fixture's secret by absolute path, by `..`, through a linked
 * folder, through a linked file, and through `self/..` where `self` links to the working directory itself
 * (the kernel takes `..` after the link, so a lexical check is fooled). Each must be refused before any
 * program runs, and nothing may be written outside. The common legitimate forms still run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import type { ToolOutput } from "../../../src/tools/ToolDefinition.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, secretText, structured, textOf } from "../fixtures.ts"
import { repoWith } from "../git/gitRepo.ts"
import { dirSpellings, readSpellings, type Spelling, writeSpellings } from "./optionSpellingTable.ts"

let fx: Fixture
let hostname = ""
beforeEach(() => {
  fx = makeFixture()
  // (the attack needs no such file: it is refused by name; the line only makes a run that slipped through visible)
  hostname = fs.existsSync("/etc/hostname") ? fs.readFileSync("/etc/hostname", "utf8").trim() : "localhost"
  // the workspace is a repository holding lines that an outside pattern file would match
  repoWith(fx.root, { "a.txt": "alpha\nneedle one\n", "cand.txt": `${hostname}\n${secretText}\nx\n`, "sub/b.txt": "beta needle\n" })
  link(fx.root, "self", fx.root)
  link(fx.root, "out", fx.outside)
  link(fx.root, "leak.txt", fx.secret)
})
afterEach(() => fx.cleanup())

const allowedCommands = ["ls", "cat", "head", "tail", "grep", "find", "git", "docker", "curl", "ping"]

type Case = { readonly command: string; readonly args: ReadonlyArray<string>; readonly cwd?: string }

/** Runs every case on one router; returns the outputs in order. */
const runAll = (cases: ReadonlyArray<Case>) =>
  runWith(
    fx.root,
    Effect.forEach(cases, (c) => callTool("execute_command", { command: c.command, args: c.args, ...(c.cwd === undefined ? {} : { cwd: c.cwd }) })),
    { timeout: 5_000, allowedCommands }
  )

const outsideName = () => path.basename(fx.outside)

/** Files outside, each spelled every way. */
const outsideFiles = () => [
  "/etc/hostname",
  fx.secret,
  `../${outsideName()}/secret.txt`,
  `self/../${outsideName()}/secret.txt`,
  "out/secret.txt",
  "leak.txt"
]
/** Folders outside. */
const outsideDirs = () => ["/etc", fx.outside, "..", `self/../${outsideName()}`, "out", "self/.."]
/** Files to be created outside. */
const outsideWrites = () => [
  path.join(fx.outside, "w1"),
  `../${outsideName()}/w2`,
  `self/../${outsideName()}/w3`,
  "out/w4"
]

const casesOf = (spellings: Readonly<Record<string, ReadonlyArray<Spelling>>>, targets: ReadonlyArray<string>): Array<Case> =>
  Object.entries(spellings).flatMap(([command, list]) => list.flatMap((spell) => targets.map((t) => ({ command, args: spell(t) }))))

/** Refused before anything ran: an error result with no process result, naming what was refused. */
const assertRefused = (c: Case, output: ToolOutput) => {
  const label = `${c.command} ${JSON.stringify(c.args)}: ${textOf(output)}`
  assert.isTrue(output.isError, label)
  assert.isUndefined(output.structuredContent, label)
  assert.include(textOf(output), "refused", label)
  assert.notInclude(textOf(output), secretText, label)
}

const markersOutside = () => fs.readdirSync(fx.outside).filter((name) => name !== "secret.txt")

describe("every spelling of an argument naming an outside file or folder is refused before the program runs", () => {
  for (const command of ["grep", "cat", "head", "tail", "ls", "find", "git", "docker"]) {
    it.live(`${command}: reads of outside files and folders`, () =>
      Effect.gen(function*() {
        const cases = [
          ...casesOf({ [command]: readSpellings[command] ?? [] }, outsideFiles()),
          ...casesOf({ [command]: dirSpellings[command] ?? [] }, outsideDirs())
        ]
        assert.isAbove(cases.length, 0)
        const outputs = yield* runAll(cases)
        cases.forEach((c, i) => assertRefused(c, outputs[i]!))
      }), 60_000)
  }

  it.live("git: writes outside, every spelling", () =>
    Effect.gen(function*() {
      const cases = casesOf(writeSpellings, outsideWrites())
      const outputs = yield* runAll(cases)
      cases.forEach((c, i) => assertRefused(c, outputs[i]!))
      assert.deepStrictEqual(markersOutside(), [])
      assert.isFalse(fs.existsSync(path.join(path.dirname(fx.root), "w2")))
    }), 60_000)

  it.live("the attacks of the issue: grep -x -f/etc/hostname and a curl URL list of file: URLs", () =>
    Effect.gen(function*() {
      const [grep, curl] = yield* runAll([
        { command: "grep", args: ["-x", "-f/etc/hostname", "cand.txt"] },
        { command: "curl", args: ["-s", "{file:///etc/hostname,file:///etc/os-release}"] }
      ])
      assert.strictEqual(textOf(grep!), `Path "/etc/hostname" refused: it is outside the working directory ${fx.root}`)
      assertRefused({ command: "curl", args: [] }, curl!)
      assert.include(textOf(curl!), "use fetch_url")
      assert.notInclude(textOf(curl!), "PRETTY_NAME")
    }))

  it.live("a linked folder's `..` is where the link leads, not the folder holding the link", () =>
    Effect.gen(function*() {
      const [cat] = yield* runAll([{ command: "cat", args: [`self/../${outsideName()}/secret.txt`] }])
      assert.strictEqual(
        textOf(cat!),
        `Path "self/../${outsideName()}/secret.txt" refused: it is outside the working directory ${fx.root}`
      )
    }))
})

describe("options that follow links out, run programs, write files or are unknown are refused, naming the argument", () => {
  const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, string]> = [
    ["grep", ["-R", "x", "."], "grep -R is refused: it follows symbolic links, which may lead outside the working directory; use -r"],
    ["grep", ["-rR", "x", "."], "grep -R (in -rR) is refused: it follows symbolic links, which may lead outside the working directory; use -r"],
    ["grep", ["--dereference-recursive", "x"], "grep --dereference-recursive is refused: it follows symbolic links, which may lead outside the working directory; use --recursive"],
    ["grep", ["--deref", "x"], "grep --deref is refused: it follows symbolic links, which may lead outside the working directory; use --recursive"],
    ["grep", ["-X", "egrep", "x"], "grep -X is refused: it is not among the grep options execute_command allows"],
    ["grep", ["--fil=/etc/hostname", "x"], "grep --fil=/etc/hostname is refused: --fil is ambiguous (--file, --files-with-matches, --files-without-match)"],
    ["grep", ["--nonsense", "x"], "grep --nonsense is refused: it is not among the grep options execute_command allows"],
    ["grep", ["--count=3", "x"], "grep --count=3 is refused: --count takes no value"],
    ["ls", ["-lL"], "ls -L (in -lL) is refused: it follows symbolic links, which may lead outside the working directory: it shows (and with -R enters) what they point to"],
    ["ls", ["--dereference"], "ls --dereference is refused: it follows symbolic links, which may lead outside the working directory: it shows (and with -R enters) what they point to"],
    ["head", ["-n", "1", "-5", "a.txt"], "head -5 is refused: a count is given as -n NUM (the form -NUM only as the first argument)"],
    ["tail", ["a.txt", "-5c"], "tail -5 (in -5c) is refused: a count is given as -n NUM or -c NUM (the form -NUM only as the first argument)"],
    ["find", ["-L", "."], "find -L is refused: it follows symbolic links, which may lead outside the working directory"],
    ["find", [".", "-follow"], "find -follow is refused: it follows symbolic links, which may lead outside the working directory"],
    ["find", ["-files0-from", "list"], "find -files0-from is refused: it reads the starting points from a file, and they may name folders outside the working directory"],
    ["find", [".", "-fprint", "x"], "find -fprint is refused: it runs programs or writes files"],
    ["find", [".", "-exec", "cat", "{}", ";"], "find -exec is refused: it runs programs or writes files"],
    ["find", [".", "-name", "x", "/etc"], "find /etc is refused: starting points must come before the expression"],
    ["find", [".", "-frobnicate"], "find -frobnicate is refused: it is not among the find expressions execute_command allows"],
    ["git", ["--shallow-file", "/etc/hostname", "log"], "git --shallow-file is refused: it is git's internal option to read a file git names"],
    ["git", ["-C/etc", "status"], "git -C/etc is refused: it is not among the git options execute_command allows before the subcommand"],
    ["git", ["--git-di=/etc", "status"], "git --git-di=/etc is refused: it is not among the git options execute_command allows before the subcommand"],
    ["docker", ["ps", "--all-the-things"], "docker --all-the-things is refused: it is not among the docker options execute_command allows"],
    ["ping", ["-c", "1", "127.0.0.1"], "ping is refused: it reaches any address the router's host can, and execute_command cannot hold it to tools.network; fetch_url checks an address against it"]
  ]
  it.live("each with its reason", () =>
    Effect.gen(function*() {
      const outputs = yield* runAll(cases.map(([command, args]) => ({ command, args })))
      cases.forEach(([command, args, message], i) => {
        assert.strictEqual(textOf(outputs[i]!), message, `${command} ${JSON.stringify(args)}`)
        assert.isUndefined(outputs[i]!.structuredContent)
      })
    }))
})

describe("curl is refused in every form, with a pointer to fetch_url", () => {
  it.live("URL globs and lists, file:, dict:, gopher: and private addresses in every spelling", () =>
    Effect.gen(function*() {
      const urls = [
        "{file:///etc/hostname,file:///etc/os-release}",
        "file:///etc/hostname",
        "FILE:///etc/hostname",
        "[1-2].example.com",
        "http://{127.0.0.1,localhost}/",
        "dict://127.0.0.1:11211/stat",
        "gopher://127.0.0.1:6379/_INFO",
        "http://127.0.0.1/",
        "http://0x7f.1/",
        "http://2130706433/",
        "http://[::ffff:127.0.0.1]/",
        "http://localhost./",
        "https://example.com/"
      ]
      const cases = urls.flatMap((url) => [["-s", url], ["-g", url], ["--globoff", "--proto", "=https", url], ["--url", url]])
      const outputs = yield* runAll(cases.map((args) => ({ command: "curl", args })))
      cases.forEach((args, i) => {
        assertRefused({ command: "curl", args }, outputs[i]!)
        assert.include(textOf(outputs[i]!), "use fetch_url", JSON.stringify(args))
      })
      assert.deepStrictEqual(markersOutside(), [])
    }))
})

describe("the common legitimate forms still run", () => {
  const ok = (output: ToolOutput, label: string) => {
    assert.isFalse(output.isError, `${label}: ${textOf(output)}`)
    return String(structured(output)["stdout"])
  }
  it.live("grep, find, cat, head, tail, ls and git with their usual options", () =>
    Effect.gen(function*() {
      put(fx.root, "notes/c.md", "Needle in markdown\n")
      put(fx.root, "patterns.txt", "alpha\n")
      put(fx.root, "-dash.txt", "dash needle\n")
      const cases: ReadonlyArray<readonly [string, ReadonlyArray<string>, (stdout: string) => void, string?]> = [
        ["grep", ["-rn", "needle", "sub"], (s) => assert.strictEqual(s, "sub/b.txt:1:beta needle\n")],
        ["grep", ["-rniE", "needle|NEEDLE", "--include=*.md", "."], (s) => assert.strictEqual(s, "./notes/c.md:1:Needle in markdown\n")],
        ["grep", ["-rl", "--exclude-dir=.git", "--exclude=*.md", "needle", "."], (s) => assert.sameMembers(s.trim().split("\n"), ["./a.txt", "./sub/b.txt", "./-dash.txt"])],
        ["grep", ["-c", "-e", "needle", "a.txt"], (s) => assert.strictEqual(s, "1\n")],
        ["grep", ["-Fxv", "-m", "1", "alpha", "a.txt"], (s) => assert.strictEqual(s, "needle one\n")],
        ["grep", ["-ow", "needle", "a.txt"], (s) => assert.strictEqual(s, "needle\n")],
        ["grep", ["-A1", "-B", "0", "-C", "0", "alpha", "a.txt"], (s) => assert.strictEqual(s, "alpha\nneedle one\n")],
        ["grep", ["-f", "patterns.txt", "a.txt"], (s) => assert.strictEqual(s, "alpha\n")],
        ["grep", ["--file=patterns.txt", "--color=never", "a.txt"], (s) => assert.strictEqual(s, "alpha\n")],
        ["grep", ["-e", "/etc/passwd", "-e", "../x", "a.txt"], (s) => assert.strictEqual(s, "")],
        ["grep", ["-h", "needle", "--", "-dash.txt"], (s) => assert.strictEqual(s, "dash needle\n")],
        ["find", [".", "-name", "*.md", "-type", "f"], (s) => assert.strictEqual(s, "./notes/c.md\n")],
        ["find", ["sub", "-maxdepth", "1", "-mindepth", "1", "-iname", "B.TXT", "-print"], (s) => assert.strictEqual(s, "sub/b.txt\n")],
        ["find", [".", "-path", "./sub/*", "-size", "-2k", "-mtime", "-1"], (s) => assert.strictEqual(s, "./sub/b.txt\n")],
        ["find", ["notes", "sub", "-newer", "a.txt", "-type", "f", "-not", "-name", "*.md"], (s) => assert.include(["", "sub/b.txt\n"], s)],
        ["find", [".", "-name", "/etc/*", "-o", "-name", "../*"], (s) => assert.strictEqual(s, "")],
        ["cat", ["-n", "a.txt"], (s) => assert.strictEqual(s, "     1\talpha\n     2\tneedle one\n")],
        ["cat", ["sub/b.txt", "./a.txt"], (s) => assert.strictEqual(s, "beta needle\nalpha\nneedle one\n")],
        ["head", ["-n", "1", "a.txt"], (s) => assert.strictEqual(s, "alpha\n")],
        ["head", ["-1", "a.txt"], (s) => assert.strictEqual(s, "alpha\n")],
        ["head", ["-c", "3", "a.txt"], (s) => assert.strictEqual(s, "alp")],
        ["head", ["--lines=1", "a.txt", "sub/b.txt"], (s) => assert.strictEqual(s, "==> a.txt <==\nalpha\n\n==> sub/b.txt <==\nbeta needle\n")],
        ["tail", ["-n", "1", "a.txt"], (s) => assert.strictEqual(s, "needle one\n")],
        ["tail", ["-1", "a.txt"], (s) => assert.strictEqual(s, "needle one\n")],
        ["tail", ["-c", "4", "a.txt"], (s) => assert.strictEqual(s, "one\n")],
        ["ls", ["-la", "sub"], (s) => assert.include(s, "b.txt")],
        ["ls", ["-1", "--color=never", "notes", "sub"], (s) => assert.strictEqual(s, "notes:\nc.md\n\nsub:\nb.txt\n")],
        ["ls", ["-R", "notes"], (s) => assert.strictEqual(s, "notes:\nc.md\n")],
        ["ls", ["-lh", "--time-style=long-iso", "a.txt"], (s) => assert.include(s, "a.txt")],
        ["git", ["log", "--oneline", "-n", "1"], (s) => assert.match(s, /^[0-9a-f]+ /)],
        ["git", ["log", "--format=%s", "--grep=/nothing/"], (s) => assert.strictEqual(s, "")],
        ["git", ["status", "--short", "sub"], (s) => assert.strictEqual(s, "")],
        ["git", ["show", "--stat", "HEAD"], (s) => assert.include(s, "a.txt")],
        ["git", ["diff", "HEAD", "--", "a.txt"], (s) => assert.strictEqual(s, "")],
        ["git", ["grep", "-n", "needle"], (s) => assert.include(s, "a.txt:2:needle one")],
        ["git", ["grep", "/etc/passwd"], (s) => assert.strictEqual(s, "")],
        ["git", ["ls-files", "--", "sub"], (s) => assert.strictEqual(s, "sub/b.txt\n")],
        ["git", ["ls-files", "../a.txt"], (s) => assert.strictEqual(s, "../a.txt\n"), "sub"],
        ["grep", ["-n", "needle", "../a.txt"], (s) => assert.strictEqual(s, "2:needle one\n"), "sub"]
      ]
      const outputs = yield* runAll(cases.map(([command, args, , cwd]) => (cwd === undefined ? { command, args } : { command, args, cwd })))
      cases.forEach(([command, args, check], i) => {
        const output = outputs[i]!
        const label = `${command} ${JSON.stringify(args)}`
        // grep and git grep end with 1 when nothing matches
        const noMatch = structured(output)["exitCode"] === 1 && (command === "grep" || args[0] === "grep")
        check(noMatch ? "" : ok(output, label))
      })
    }), 60_000)
})

/** execute_command through the Router with real programs in a real temporary working folder. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { InvalidArguments, UnknownTool } from "../../../src/router/RouterErrors.ts"
import { type Fixture, link, makeFixture, put, secretText, structured, textOf } from "../fixtures.ts"
import { execute, exists, withEnv } from "./processHelpers.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const run = (args: Record<string, unknown>, tools: Record<string, unknown> = {}) => execute(fx.root, args, { timeout: 3_000, ...tools })

/** Expects an isError result with exactly `message` (no process ran, so no structured result). */
const refusedWith = (args: Record<string, unknown>, message: string, tools: Record<string, unknown> = {}) =>
  Effect.gen(function*() {
    const output = yield* run(args, tools)
    assert.isTrue(output.isError, `expected isError, got ${textOf(output)}`)
    assert.strictEqual(textOf(output), message)
    assert.isUndefined(output.structuredContent)
  })

const outsideMessage = (p: string) => `Path ${JSON.stringify(p)} refused: it is outside the working directory ${fx.root}`

describe("execute_command: results", () => {
  it.live("a successful run returns stdout, exit code 0 and every structured field", () =>
    Effect.gen(function*() {
      put(fx.root, "b.txt", "b")
      put(fx.root, "a.txt", "a")
      const output = yield* run({ command: "ls" })
      assert.isFalse(output.isError)
      assert.match(textOf(output), /^ls exited with 0 in \d+ ms\n--- stdout ---\na\.txt\nb\.txt\n$/)
      const { durationMs, ...rest } = structured(output)
      assert.deepStrictEqual(rest, {
        exitCode: 0,
        signal: null,
        stdout: "a.txt\nb.txt\n",
        stderr: "",
        stdoutTruncated: false,
        stderrTruncated: false,
        timedOut: false
      })
      assert.isNumber(durationMs)
      assert.isAtLeast(durationMs, 0)
    }))

  it.live("a non-zero exit is an isError result carrying stderr, not a protocol error", () =>
    Effect.gen(function*() {
      const output = yield* run({ command: "ls", args: ["missing.txt"] })
      assert.isTrue(output.isError)
      assert.strictEqual(structured(output)["exitCode"], 2)
      assert.strictEqual(structured(output)["signal"], null)
      assert.strictEqual(structured(output)["stdout"], "")
      assert.include(structured(output)["stderr"], "cannot access 'missing.txt': No such file or directory")
      assert.match(textOf(output), /^ls exited with 2 in \d+ ms\n--- stderr ---\n\S*ls: cannot access 'missing.txt'/)
    }))

  it.live("grep's exit 1 (no match) is reported as it is", () =>
    Effect.gen(function*() {
      put(fx.root, "a.txt", "hay\n")
      const output = yield* run({ command: "grep", args: ["needle", "a.txt"] })
      assert.isTrue(output.isError)
      assert.strictEqual(structured(output)["exitCode"], 1)
      assert.match(textOf(output), /^grep exited with 1 in \d+ ms$/)
    }))
})

describe("execute_command: no shell", () => {
  it.live("shell metacharacters in arguments are plain text", () =>
    Effect.gen(function*() {
      const tricks = ["; touch pwned1", "$(touch pwned2)", "`touch pwned3`", "| touch pwned4", "&& touch pwned5", "> pwned6"]
      for (const trick of tricks) {
        const output = yield* run({ command: "ls", args: [trick] })
        assert.isTrue(output.isError)
        assert.strictEqual(structured(output)["exitCode"], 2)
        assert.include(structured(output)["stderr"], `cannot access '${trick}'`)
      }
      for (let i = 1; i <= 6; i++) assert.isFalse(exists(fx.root, `pwned${i}`), `pwned${i} was created`)
    }))

  it.live("grep searches for the literal text $(id)", () =>
    Effect.gen(function*() {
      put(fx.root, "a.txt", "literal $(id) here\nuid=0 is not here\n")
      const output = yield* run({ command: "grep", args: ["-rhF", "$(id)", "."] })
      assert.isFalse(output.isError)
      assert.strictEqual(structured(output)["stdout"], "literal $(id) here\n")
    }))

  it.live("stdin is passed to the program; without it stdin is empty, so cat does not wait", () =>
    Effect.gen(function*() {
      const echoed = yield* run({ command: "cat", stdin: "hello\nwörld ✓" })
      assert.strictEqual(structured(echoed)["stdout"], "hello\nwörld ✓")
      const first = yield* run({ command: "head", args: ["-n", "1"], stdin: "one\ntwo\n" })
      assert.strictEqual(structured(first)["stdout"], "one\n")
      const empty = yield* run({ command: "cat" })
      assert.isFalse(empty.isError)
      assert.strictEqual(structured(empty)["stdout"], "")
      assert.isFalse(structured(empty)["timedOut"])
    }))
})

describe("execute_command: the working directory", () => {
  it.live("cwd inside the working directory, including through an inside link", () =>
    Effect.gen(function*() {
      put(fx.root, "sub/inner.txt", "x")
      link(fx.root, "alias", "sub")
      assert.strictEqual(structured(yield* run({ command: "ls", cwd: "sub" }))["stdout"], "inner.txt\n")
      assert.strictEqual(structured(yield* run({ command: "ls", cwd: "alias" }))["stdout"], "inner.txt\n")
      assert.strictEqual(structured(yield* run({ command: "ls", cwd: path.join(fx.root, "sub") }))["stdout"], "inner.txt\n")
    }))

  it.live("a cwd outside is refused", () =>
    Effect.gen(function*() {
      yield* refusedWith({ command: "ls", cwd: ".." }, outsideMessage(".."))
      yield* refusedWith({ command: "ls", cwd: fx.outside }, outsideMessage(fx.outside))
      link(fx.root, "out", fx.outside)
      const output = yield* run({ command: "ls", cwd: "out" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), `resolves through a symbolic link to ${fx.outside}, outside the working directory`)
      assert.notInclude(textOf(output), "secret.txt")
    }))

  it.live("a cwd that does not exist is an isError result", () =>
    Effect.gen(function*() {
      const output = yield* run({ command: "ls", cwd: "nope" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "Could not start")
    }))
})

describe("execute_command: path arguments stay inside", () => {
  it.live("absolute and parent-relative paths outside are refused before anything runs", () =>
    Effect.gen(function*() {
      yield* refusedWith({ command: "cat", args: ["/etc/passwd"] }, outsideMessage("/etc/passwd"))
      yield* refusedWith({ command: "cat", args: ["../x"] }, outsideMessage("../x"))
      yield* refusedWith({ command: "cat", args: [fx.secret] }, outsideMessage(fx.secret))
      yield* refusedWith({ command: "grep", args: ["-r", "SECRET", "--", "sub/../../"] }, outsideMessage("sub/../../"))
    }))

  it.live("a path-looking argument through a link to outside is refused", () =>
    Effect.gen(function*() {
      link(fx.root, "leak.txt", fx.secret)
      const output = yield* run({ command: "cat", args: ["sub/../leak.txt"] })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "symbolic link")
      assert.notInclude(textOf(output), secretText)
    }))

  it.live("an absolute path inside is allowed", () =>
    Effect.gen(function*() {
      const file = put(fx.root, "in.txt", "inside")
      assert.strictEqual(structured(yield* run({ command: "cat", args: [file] }))["stdout"], "inside")
    }))

  it.live("a plain-name argument that is a link to outside is refused", () =>
    Effect.gen(function*() {
      link(fx.root, "leak.txt", fx.secret)
      const output = yield* run({ command: "cat", args: ["leak.txt"] })
      assert.notInclude(textOf(output), secretText)
      assert.isTrue(output.isError)
    }))

  it.live("a relative argument through a linked folder to outside is refused", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      const output = yield* run({ command: "cat", args: ["out/secret.txt"] })
      assert.notInclude(textOf(output), secretText)
      assert.isTrue(output.isError)
    }))
})

describe("execute_command: the allowlist", () => {
  it.live("a program not allowed is refused naming the list", () =>
    refusedWith(
      { command: "rm", args: ["-rf", "."] },
      "\"rm\" is not allowed; allowed programs are ls, cat (tools.allowedCommands)",
      { allowedCommands: ["ls", "cat"] }
    ))

  it.live("a path as the command is refused", () =>
    refusedWith({ command: "/bin/ls" }, "\"/bin/ls\" is not a program name; give the name alone (no path, no shell syntax)"))

  it.live("an allowed program that is not installed", () =>
    refusedWith(
      { command: "no-such-program-xyz" },
      "no-such-program-xyz is allowed but not installed: it was not found on PATH",
      { allowedCommands: ["ls", "no-such-program-xyz"] }
    ))

  it.live("invalid arguments are InvalidArguments errors", () =>
    Effect.gen(function*() {
      for (const [args, field] of [[{ command: "" }, "command"], [{ command: "ls", timeoutMs: 0 }, "timeoutMs"], [{ command: "ls", args: "-l" }, "args"]] as const) {
        const error = yield* Effect.flip(run(args))
        assert.instanceOf(error, InvalidArguments)
        if (error instanceof InvalidArguments) assert.isTrue(error.problems.some((p) => p.path === field), error.message)
      }
    }))

  it.live("with tools.enableReal false there is no execute_command", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(run({ command: "ls" }, { enableReal: false }))
      assert.instanceOf(error, UnknownTool)
    }))
})

describe("execute_command: the child's environment", () => {
  it.live("keys and tokens are not passed; PATH and GIT_CEILING_DIRECTORIES are", () =>
    withEnv(
      { MCP_ADMIN_KEY: "admin-key-value", SECRET_TOKEN: "secret-token-value", OPENAI_API_KEY: "sk-test-value" },
      Effect.gen(function*() {
        const output = yield* run({ command: "node", args: ["-e", "console.log(JSON.stringify(process.env))"] }, {
          allowedCommands: ["node"]
        })
        assert.isFalse(output.isError, textOf(output))
        const env = JSON.parse(structured(output)["stdout"]) as Record<string, string>
        for (const name of ["MCP_ADMIN_KEY", "SECRET_TOKEN", "OPENAI_API_KEY"]) assert.notProperty(env, name)
        for (const value of ["admin-key-value", "secret-token-value", "sk-test-value"]) assert.notInclude(structured(output)["stdout"], value)
        assert.strictEqual(env["PATH"], process.env.PATH)
        assert.strictEqual(env["GIT_CEILING_DIRECTORIES"], path.dirname(fx.root))
        assert.strictEqual(env["GIT_TERMINAL_PROMPT"], "0")
        assert.strictEqual(env["GIT_CONFIG_NOSYSTEM"], "1")
        const allowed = /^(PATH|HOME|USER|LOGNAME|LANG|LC_ALL|LC_CTYPE|TZ|TMPDIR|DOCKER_HOST|TERM|PAGER|GIT_PAGER|GIT_TERMINAL_PROMPT|GIT_CONFIG_NOSYSTEM|GIT_CEILING_DIRECTORIES|GIT_CONFIG_COUNT|GIT_CONFIG_(KEY|VALUE)_\d+)$/
        for (const name of Object.keys(env)) assert.match(name, allowed)
      })
    ))
})

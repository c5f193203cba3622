/** search_files through the Router, on real files and real symbolic links. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { InvalidArguments } from "../../src/router/RouterErrors.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, secretText, structured, textOf } from "./fixtures.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
  put(fx.root, "src/index.ts", "export const Foo = 1\nconst bar = 2\n// foo again\n")
  put(fx.root, "src/util.test.ts", "describe(\"util\")\n")
  put(fx.root, "src/deep/a.test.ts", "it(\"FOO works\")\n")
  put(fx.root, "lib/b.test.ts", "nothing here\n")
  put(fx.root, "README.md", "# title\nfoo in the readme\n")
  put(fx.root, ".env", "FOO=1\n")
  put(fx.root, ".git/config.ts", "foo hidden folder\n")
})
afterEach(() => fx.cleanup())

interface Match {
  readonly path: string
  readonly line?: number
  readonly text?: string
}

const search = (args: unknown, tools: Record<string, unknown> = {}) => runWith(fx.root, callTool("search_files", args), tools)
const matchesOf = (output: { readonly structuredContent?: Record<string, unknown> }) => (output.structuredContent?.["matches"] ?? []) as ReadonlyArray<Match>
const pathsOf = (output: { readonly structuredContent?: Record<string, unknown> }) => matchesOf(output).map((m) => m.path)
const p = (...parts: ReadonlyArray<string>) => path.join(...parts)

describe("search_files: by name", () => {
  it.effect("a name glob matches in every folder", () =>
    Effect.gen(function*() {
      const output = yield* search({ pattern: "*.ts" })
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(pathsOf(output), [p("lib", "b.test.ts"), p("src", "deep", "a.test.ts"), p("src", "index.ts"), p("src", "util.test.ts")])
      assert.deepInclude(structured(output), { path: ".", count: 4, truncated: false, skippedFiles: 0 })
      assert.include(textOf(output), p("src", "index.ts"))
    }))

  it.effect("a path glob is matched from the search folder", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(pathsOf(yield* search({ pattern: "src/**/*.test.ts" })), [p("src", "deep", "a.test.ts"), p("src", "util.test.ts")])
      // inside src, the path glob is relative to src; result paths stay relative to the working folder
      const inSrc = yield* search({ path: "src", pattern: "deep/*.ts" })
      assert.deepStrictEqual(pathsOf(inSrc), [p("src", "deep", "a.test.ts")])
      assert.strictEqual(structured(inSrc)["path"], "src")
    }))

  it.effect("no match", () =>
    Effect.gen(function*() {
      const output = yield* search({ pattern: "*.rs" })
      assert.deepStrictEqual(matchesOf(output), [])
      assert.strictEqual(textOf(output), "No matches")
    }))

  it.effect("hidden files and folders are excluded by default", () =>
    Effect.gen(function*() {
      const all = pathsOf(yield* search({}))
      assert.include(all, "README.md")
      assert.notInclude(all, ".env")
      assert.notInclude(all, p(".git", "config.ts"))
      assert.include(pathsOf(yield* search({ pattern: "*.ts", includeHidden: true })), p(".git", "config.ts"))
    }))

  it.effect("includeHidden finds hidden files with the default pattern", () =>
    Effect.gen(function*() {
      assert.include(pathsOf(yield* search({ includeHidden: true })), ".env")
    }))
})

describe("search_files: contentRegex", () => {
  it.effect("reports matching lines with line numbers, case-insensitive by default", () =>
    Effect.gen(function*() {
      const output = yield* search({ contentRegex: "foo" })
      assert.deepStrictEqual(matchesOf(output), [
        { path: "README.md", line: 2, text: "foo in the readme" },
        { path: p("src", "deep", "a.test.ts"), line: 1, text: "it(\"FOO works\")" },
        { path: p("src", "index.ts"), line: 1, text: "export const Foo = 1" },
        { path: p("src", "index.ts"), line: 3, text: "// foo again" }
      ])
      assert.include(textOf(output), `${p("src", "index.ts")}:3: // foo again`)
    }))

  it.effect("caseSensitive, and combined with a name glob", () =>
    Effect.gen(function*() {
      const exact = yield* search({ contentRegex: "foo", caseSensitive: true })
      assert.deepStrictEqual(matchesOf(exact).map((m) => `${m.path}:${m.line}`), ["README.md:2", `${p("src", "index.ts")}:3`])
      const upper = yield* search({ contentRegex: "^export const Fo+ =", caseSensitive: true, pattern: "*.ts" })
      assert.deepStrictEqual(pathsOf(upper), [p("src", "index.ts")])
    }))

  it.effect("a binary file (holding a NUL byte) is skipped and counted", () =>
    Effect.gen(function*() {
      put(fx.root, "data.bin", Buffer.concat([Buffer.from("foo\n"), Buffer.from([0, 1, 2]), Buffer.from("\nfoo\n")]))
      const output = yield* search({ contentRegex: "foo" })
      assert.notInclude(pathsOf(output), "data.bin")
      assert.strictEqual(structured(output)["skippedFiles"], 1)
    }))

  it.effect("a file over tools.maxReadBytes is skipped and counted", () =>
    Effect.gen(function*() {
      put(fx.root, "big.txt", "foo\n" + "x".repeat(200))
      const output = yield* search({ contentRegex: "foo" }, { maxReadBytes: 100 })
      assert.notInclude(pathsOf(output), "big.txt")
      assert.include(pathsOf(output), "README.md")
      assert.strictEqual(structured(output)["skippedFiles"], 1)
    }))

  it.effect("an invalid regular expression is an isError naming contentRegex", () =>
    Effect.gen(function*() {
      const output = yield* search({ contentRegex: "foo(" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "contentRegex")
      assert.include(textOf(output), "not a valid regular expression")
    }))

  it.effect("an empty contentRegex is an invalid argument", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(search({ contentRegex: "" }))
      assert.instanceOf(error, InvalidArguments)
      assert.include(error.message, "contentRegex")
    }))
})

describe("search_files: result limits", () => {
  it.effect("maxResults truncates", () =>
    Effect.gen(function*() {
      const byName = yield* search({ pattern: "*.ts", maxResults: 2 })
      assert.deepInclude(structured(byName), { count: 2, truncated: true })
      assert.include(textOf(byName), "stopped at 2 results")
      const byContent = yield* search({ contentRegex: "foo", maxResults: 3 })
      assert.deepInclude(structured(byContent), { count: 3, truncated: true })
      const exact = yield* search({ pattern: "*.ts", maxResults: 4 })
      assert.deepInclude(structured(exact), { count: 4, truncated: false })
    }))

  it.effect("tools.maxSearchResults caps the results, even above a larger maxResults", () =>
    Effect.gen(function*() {
      const output = yield* search({ pattern: "*.ts", maxResults: 100 }, { maxSearchResults: 3 })
      assert.deepInclude(structured(output), { count: 3, truncated: true })
      const lines = yield* search({ contentRegex: "foo" }, { maxSearchResults: 1 })
      assert.deepInclude(structured(lines), { count: 1, truncated: true })
    }))
})

describe("search_files: confinement", () => {
  it.effect("a search folder outside is refused", () =>
    Effect.gen(function*() {
      for (const folder of ["..", fx.outside]) {
        const output = yield* search({ path: folder, contentRegex: "SECRET" })
        assert.isTrue(output.isError)
        assert.include(textOf(output), JSON.stringify(folder))
        assert.include(textOf(output), "outside the working directory")
        assert.notInclude(textOf(output), secretText)
      }
    }))

  it.effect("a symbolic link to a folder outside is not searched, nor can it be the search folder", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      link(fx.root, "leak.txt", fx.secret)
      const byContent = yield* search({ contentRegex: "SECRET" })
      assert.deepStrictEqual(matchesOf(byContent), [])
      assert.notInclude(textOf(byContent), secretText)
      const byName = yield* search({ pattern: "*.txt" })
      assert.deepStrictEqual(pathsOf(byName), [])
      const viaLink = yield* search({ path: "out" })
      assert.isTrue(viaLink.isError)
      assert.include(textOf(viaLink), "outside the working directory")
    }))

  it.effect("a file is not a search folder; a missing folder does not exist", () =>
    Effect.gen(function*() {
      const file = yield* search({ path: "README.md" })
      assert.isTrue(file.isError)
      assert.include(textOf(file), "README.md is not a directory")
      const missing = yield* search({ path: "nope" })
      assert.isTrue(missing.isError)
      assert.include(textOf(missing), "nope does not exist")
    }))
})

describe("search_files: a regular expression that backtracks forever", () => {
  // matching runs in a worker thread, so the call's timeout can stop it and the router keeps serving
  it.live("is stopped by tools.timeout and the next call still works", () =>
    Effect.gen(function*() {
      put(fx.root, "evil.txt", `${"a".repeat(40)}\n`)
      const stuck = yield* search({ pattern: "evil.txt", contentRegex: "^(a+)+b$" }, { timeout: 300 })
      assert.isTrue(stuck.isError)
      assert.include(textOf(stuck), "tools.timeout")
      const next = yield* search({ pattern: "README.md", contentRegex: "title" })
      assert.deepStrictEqual(pathsOf(next), ["README.md"])
    }))
})

describe("search_files: glob syntax", () => {
  it.effect("braces, character classes and ? work, and a leading dot matches when hidden files are included", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(pathsOf(yield* search({ pattern: "*.{md,ts}", path: "src" })), [p("src", "deep", "a.test.ts"), p("src", "index.ts"), p("src", "util.test.ts")])
      assert.deepStrictEqual(pathsOf(yield* search({ pattern: "[R]EADM?.md" })), ["README.md"])
      assert.deepStrictEqual(pathsOf(yield* search({ pattern: ".e*", includeHidden: true })), [".env"])
    }))
})

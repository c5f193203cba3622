/** list_directory through the Router, on real folders and real symbolic links. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { InvalidArguments } from "../../src/router/RouterErrors.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, structured, textOf } from "./fixtures.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
  put(fx.root, "b.txt", "12345")
  put(fx.root, "a.md", "")
  put(fx.root, ".hidden", "h")
  put(fx.root, "docs/guide.md", "guide")
  put(fx.root, "docs/.draft.md", "draft")
  put(fx.root, "docs/deep/deeper/bottom.txt", "bottom")
})
afterEach(() => fx.cleanup())

interface Entry {
  readonly path: string
  readonly name: string
  readonly type: string
  readonly size: number
  readonly modified: string
}

const list = (args: unknown, tools: Record<string, unknown> = {}) => runWith(fx.root, callTool("list_directory", args), tools)
const entriesOf = (output: { readonly structuredContent?: Record<string, unknown> }) => (output.structuredContent?.["entries"] ?? []) as ReadonlyArray<Entry>
const pathsOf = (output: { readonly structuredContent?: Record<string, unknown> }) => entriesOf(output).map((e) => e.path)

describe("list_directory: entries", () => {
  it.effect("lists the working folder with type, size and modification time, sorted by name", () =>
    Effect.gen(function*() {
      const output = yield* list({})
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(pathsOf(output), ["a.md", "b.txt", "docs"])
      const [a, b, docs] = entriesOf(output)
      assert.deepInclude(a, { name: "a.md", type: "file", size: 0 })
      assert.deepInclude(b, { name: "b.txt", type: "file", size: 5 })
      assert.deepInclude(docs, { name: "docs", type: "directory" })
      const mtime = fs.lstatSync(path.join(fx.root, "b.txt")).mtime.toISOString()
      assert.strictEqual(b?.modified, mtime)
      assert.deepInclude(structured(output), { path: ".", count: 3, truncated: false })
      assert.include(textOf(output), "b.txt")
      assert.match(textOf(output), /^d\s+\d+ docs$/m)
    }))

  it.effect("lists a sub-folder; paths stay relative to the working folder", () =>
    Effect.gen(function*() {
      const output = yield* list({ path: "docs" })
      assert.deepStrictEqual(pathsOf(output), [path.join("docs", "deep"), path.join("docs", "guide.md")])
      assert.strictEqual(structured(output)["path"], "docs")
    }))

  it.effect("an empty folder", () =>
    Effect.gen(function*() {
      fs.mkdirSync(path.join(fx.root, "empty"))
      const output = yield* list({ path: "empty" })
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(entriesOf(output), [])
      assert.include(textOf(output), "empty is empty")
    }))

  it.effect("hidden names are excluded by default and included with includeHidden", () =>
    Effect.gen(function*() {
      assert.notInclude(pathsOf(yield* list({ recursive: true })), ".hidden")
      assert.notInclude(pathsOf(yield* list({ recursive: true })), path.join("docs", ".draft.md"))
      const all = yield* list({ recursive: true, includeHidden: true })
      assert.include(pathsOf(all), ".hidden")
      assert.include(pathsOf(all), path.join("docs", ".draft.md"))
    }))
})

describe("list_directory: recursion", () => {
  it.effect("recursive descends, maxDepth limits it", () =>
    Effect.gen(function*() {
      const full = yield* list({ recursive: true })
      assert.deepStrictEqual(pathsOf(full), [
        "a.md",
        "b.txt",
        "docs",
        path.join("docs", "deep"),
        path.join("docs", "deep", "deeper"),
        path.join("docs", "deep", "deeper", "bottom.txt"),
        path.join("docs", "guide.md")
      ])
      assert.deepStrictEqual(pathsOf(yield* list({ recursive: true, maxDepth: 1 })), ["a.md", "b.txt", "docs"])
      assert.deepStrictEqual(pathsOf(yield* list({ recursive: true, maxDepth: 2 })), [
        "a.md",
        "b.txt",
        "docs",
        path.join("docs", "deep"),
        path.join("docs", "guide.md")
      ])
      assert.notInclude(pathsOf(yield* list({ recursive: true, maxDepth: 3 })), path.join("docs", "deep", "deeper", "bottom.txt"))
    }))

  it.effect("maxDepth without recursive lists one level", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(pathsOf(yield* list({ maxDepth: 5 })), ["a.md", "b.txt", "docs"])
    }))

  it.effect("symbolic links are listed as symlink and not descended into", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      link(fx.root, "docs-link", "docs")
      link(fx.root, "leak.txt", fx.secret)
      const output = yield* list({ recursive: true, includeHidden: true })
      const byPath = new Map(entriesOf(output).map((e) => [e.path, e]))
      assert.strictEqual(byPath.get("out")?.type, "symlink")
      assert.strictEqual(byPath.get("docs-link")?.type, "symlink")
      assert.strictEqual(byPath.get("leak.txt")?.type, "symlink")
      for (const p of byPath.keys()) {
        assert.isFalse(p.startsWith(`out${path.sep}`), p)
        assert.isFalse(p.startsWith(`docs-link${path.sep}`), p)
      }
      assert.notInclude(textOf(output), "secret.txt")
      assert.match(textOf(output), /^l\s+\d+ out$/m)
    }))

  it.effect("a symbolic link to a folder outside cannot be listed", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      const output = yield* list({ path: "out" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "\"out\"")
      assert.include(textOf(output), "outside the working directory")
      assert.notInclude(textOf(output), "secret.txt")
    }))
})

describe("list_directory: tools.maxListEntries", () => {
  it.effect("stops at the limit with truncated: true", () =>
    Effect.gen(function*() {
      for (let i = 0; i < 10; i++) put(fx.root, `many/f${i}.txt`, "x")
      const output = yield* list({ path: "many" }, { maxListEntries: 4 })
      assert.strictEqual(entriesOf(output).length, 4)
      assert.deepInclude(structured(output), { count: 4, truncated: true })
      assert.include(textOf(output), "tools.maxListEntries")
    }))

  it.effect("stops at the limit while recursing, in every folder", () =>
    Effect.gen(function*() {
      const output = yield* list({ recursive: true }, { maxListEntries: 4 })
      assert.strictEqual(entriesOf(output).length, 4)
      assert.strictEqual(structured(output)["truncated"], true)
    }))

  it.effect("exactly the limit is not truncated", () =>
    Effect.gen(function*() {
      const output = yield* list({}, { maxListEntries: 3 })
      assert.deepInclude(structured(output), { count: 3, truncated: false })
      assert.notInclude(textOf(output), "truncated")
    }))
})

describe("list_directory: failures", () => {
  it.effect("a file is not a directory", () =>
    Effect.gen(function*() {
      const output = yield* list({ path: "b.txt" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "b.txt is not a directory")
    }))

  it.effect("a folder that does not exist", () =>
    Effect.gen(function*() {
      const output = yield* list({ path: "nope" })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "nope does not exist")
    }))

  it.effect("escapes by .. are refused", () =>
    Effect.gen(function*() {
      const output = yield* list({ path: ".." })
      assert.isTrue(output.isError)
      assert.include(textOf(output), "\"..\"")
      assert.include(textOf(output), "outside the working directory")
    }))

  it.effect("a maxDepth out of range is an invalid argument", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(list({ recursive: true, maxDepth: 0 }))
      assert.instanceOf(error, InvalidArguments)
      assert.include(error.message, "maxDepth")
    }))
})

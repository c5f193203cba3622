/** write_file through the Router, on real files and real symbolic links. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { InvalidArguments } from "../../src/router/RouterErrors.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, secretText, structured, tempFilesIn, textOf } from "./fixtures.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const write = (args: unknown) => runWith(fx.root, callTool("write_file", args))
const contentOf = (relative: string) => fs.readFileSync(path.join(fx.root, relative), "utf8")

/** Expects an isError result whose message contains each of `parts`. */
const writeFails = (args: unknown, ...parts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const output = yield* write(args)
    assert.isTrue(output.isError, `expected isError, got ${textOf(output)}`)
    for (const part of parts) assert.include(textOf(output), part)
    return textOf(output)
  })

const secretUnchanged = () => assert.strictEqual(fs.readFileSync(fx.secret, "utf8"), secretText)

describe("write_file: modes", () => {
  it.effect("creates a new file (default mode overwrite)", () =>
    Effect.gen(function*() {
      const output = yield* write({ path: "new.txt", content: "héllo" })
      assert.isUndefined(output.isError)
      assert.strictEqual(contentOf("new.txt"), "héllo")
      assert.deepStrictEqual(structured(output), { path: "new.txt", bytesWritten: 6, size: 6, mode: "overwrite", created: true })
      assert.include(textOf(output), "new.txt")
      assert.deepStrictEqual(tempFilesIn(fx.root), [])
    }))

  it.effect("mode create makes a new file", () =>
    Effect.gen(function*() {
      const output = yield* write({ path: "fresh.txt", content: "one", mode: "create" })
      assert.strictEqual(contentOf("fresh.txt"), "one")
      assert.strictEqual(structured(output)["created"], true)
    }))

  it.effect("mode create on an existing file fails and leaves it unchanged", () =>
    Effect.gen(function*() {
      put(fx.root, "keep.txt", "original")
      yield* writeFails({ path: "keep.txt", content: "replaced", mode: "create" }, "keep.txt", "already exists")
      assert.strictEqual(contentOf("keep.txt"), "original")
    }))

  it.effect("overwrite replaces the file and leaves no temporary file behind", () =>
    Effect.gen(function*() {
      put(fx.root, "dir/doc.txt", "a much longer original content")
      const output = yield* write({ path: "dir/doc.txt", content: "short", mode: "overwrite" })
      assert.strictEqual(contentOf("dir/doc.txt"), "short")
      assert.deepStrictEqual(structured(output), { path: path.join("dir", "doc.txt"), bytesWritten: 5, size: 5, mode: "overwrite", created: false })
      assert.deepStrictEqual(fs.readdirSync(path.join(fx.root, "dir")), ["doc.txt"])
      assert.deepStrictEqual(tempFilesIn(fx.root), [])
    }))

  it.effect("overwrite through a symbolic link inside replaces the target and keeps the link", () =>
    Effect.gen(function*() {
      put(fx.root, "real/target.txt", "old")
      link(fx.root, "alias.txt", "real/target.txt")
      const output = yield* write({ path: "alias.txt", content: "new" })
      assert.strictEqual(structured(output)["path"], path.join("real", "target.txt"))
      assert.strictEqual(contentOf("real/target.txt"), "new")
      assert.isTrue(fs.lstatSync(path.join(fx.root, "alias.txt")).isSymbolicLink())
    }))

  // a private file must stay private when it is replaced
  it.effect("overwrite keeps the permissions of the file it replaces", () =>
    Effect.gen(function*() {
      const file = put(fx.root, "private.txt", "secret")
      fs.chmodSync(file, 0o600)
      yield* write({ path: "private.txt", content: "still secret" })
      assert.strictEqual(contentOf("private.txt"), "still secret")
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
    }))

  it.effect("append adds to the end, and creates a missing file", () =>
    Effect.gen(function*() {
      put(fx.root, "log.txt", "one\n")
      const output = yield* write({ path: "log.txt", content: "two\n", mode: "append" })
      assert.strictEqual(contentOf("log.txt"), "one\ntwo\n")
      assert.deepStrictEqual(structured(output), { path: "log.txt", bytesWritten: 4, size: 8, mode: "append", created: false })
      const created = yield* write({ path: "other.txt", content: "x", mode: "append" })
      assert.strictEqual(contentOf("other.txt"), "x")
      assert.strictEqual(structured(created)["created"], true)
    }))
})

describe("write_file: folders", () => {
  it.effect("a missing folder is refused without createDirs, and created with it", () =>
    Effect.gen(function*() {
      const message = yield* writeFails({ path: "a/b/c.txt", content: "x" }, path.join("a", "b"), "does not exist", "createDirs")
      assert.include(message, "createDirs: true")
      assert.isFalse(fs.existsSync(path.join(fx.root, "a")))
      yield* writeFails({ path: "a/b/c.txt", content: "x", createDirs: false }, "createDirs")
      const output = yield* write({ path: "a/b/c.txt", content: "x", createDirs: true })
      assert.isUndefined(output.isError)
      assert.strictEqual(contentOf("a/b/c.txt"), "x")
    }))

  it.effect("a parent that is a file is refused", () =>
    Effect.gen(function*() {
      put(fx.root, "plain.txt", "x")
      yield* writeFails({ path: "plain.txt/child.txt", content: "y" }, "plain.txt")
      assert.strictEqual(contentOf("plain.txt"), "x")
    }))

  it.effect("path \".\" (the working folder) is refused", () =>
    Effect.gen(function*() {
      yield* writeFails({ path: ".", content: "x" }, "working directory itself")
      yield* writeFails({ path: "", content: "x" }, "working directory itself")
    }))

  it.effect("writing onto a directory is refused and leaves it intact", () =>
    Effect.gen(function*() {
      put(fx.root, "folder/inside.txt", "keep")
      for (const mode of ["overwrite", "create", "append"] as const) {
        yield* writeFails({ path: "folder", content: "x", mode }, "folder")
      }
      assert.isTrue(fs.statSync(path.join(fx.root, "folder")).isDirectory())
      assert.strictEqual(contentOf("folder/inside.txt"), "keep")
    }))
})

describe("write_file: base64", () => {
  it.effect("base64 content is written as bytes", () =>
    Effect.gen(function*() {
      const bytes = Buffer.from([0, 1, 2, 254, 255, 0x0a, 0x00])
      const output = yield* write({ path: "blob.bin", content: bytes.toString("base64"), encoding: "base64" })
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(fs.readFileSync(path.join(fx.root, "blob.bin")), bytes)
      assert.strictEqual(structured(output)["bytesWritten"], bytes.length)
    }))

  it.effect("invalid base64 is refused and nothing is written", () =>
    Effect.gen(function*() {
      yield* writeFails({ path: "blob.bin", content: "not base64 at all!", encoding: "base64" }, "not valid base64")
      yield* writeFails({ path: "blob.bin", content: "QUJD=A", encoding: "base64" }, "not valid base64")
      assert.isFalse(fs.existsSync(path.join(fx.root, "blob.bin")))
    }))
})

describe("write_file: escapes are refused and change nothing outside", () => {
  it.effect("by .. and by absolute path", () =>
    Effect.gen(function*() {
      const up = path.join("..", path.basename(fx.outside), "secret.txt")
      yield* writeFails({ path: up, content: "pwned" }, JSON.stringify(up), "outside the working directory")
      yield* writeFails({ path: fx.secret, content: "pwned" }, "outside the working directory")
      yield* writeFails({ path: path.join(fx.outside, "new.txt"), content: "pwned", createDirs: true }, "outside the working directory")
      secretUnchanged()
      assert.deepStrictEqual(fs.readdirSync(fx.outside), ["secret.txt"])
    }))

  it.effect("through a symbolic link to a file outside", () =>
    Effect.gen(function*() {
      link(fx.root, "leak.txt", fx.secret)
      for (const mode of ["overwrite", "append", "create"] as const) {
        yield* writeFails({ path: "leak.txt", content: "pwned", mode }, "leak.txt", "symbolic link", "outside the working directory")
      }
      secretUnchanged()
      assert.isTrue(fs.lstatSync(path.join(fx.root, "leak.txt")).isSymbolicLink())
    }))

  it.effect("through a symbolic link to a folder outside", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      yield* writeFails({ path: "out/secret.txt", content: "pwned" }, "out/secret.txt", "outside the working directory")
      yield* writeFails({ path: "out/new.txt", content: "pwned" }, "out/new.txt", "outside the working directory")
      yield* writeFails({ path: "out/deep/new.txt", content: "pwned", createDirs: true }, "outside the working directory")
      secretUnchanged()
      assert.deepStrictEqual(fs.readdirSync(fx.outside), ["secret.txt"])
    }))

  it.effect("to a dangling symbolic link whose target is outside: no file is created there", () =>
    Effect.gen(function*() {
      const target = path.join(fx.outside, "planted.txt")
      link(fx.root, "dangling", target)
      for (const mode of ["overwrite", "append", "create"] as const) {
        yield* writeFails({ path: "dangling", content: "pwned", mode, createDirs: true }, "dangling", "symbolic link")
      }
      assert.isFalse(fs.existsSync(target))
      assert.deepStrictEqual(fs.readdirSync(fx.outside), ["secret.txt"])
    }))
})

describe("write_file: invalid arguments", () => {
  it.effect("missing content, a bad mode and an unknown key are named", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(write({ path: "x.txt", mode: "truncate", force: true }))
      assert.instanceOf(error, InvalidArguments)
      if (!(error instanceof InvalidArguments)) return
      assert.deepStrictEqual(error.problems.map((p) => p.path).sort(), ["content", "force", "mode"])
      assert.isFalse(fs.existsSync(path.join(fx.root, "x.txt")))
    }))
})

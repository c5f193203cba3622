/** Sandbox.resolve on a real folder with real files and real symbolic links. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { PathRefused, Sandbox } from "../../src/tools/Sandbox.ts"
import { type Fixture, link, makeFixture, put } from "./fixtures.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
  put(fx.root, "a.txt", "a")
  put(fx.root, "sub/dir/file.txt", "nested")
  put(fx.root, "real/target.txt", "target")
})
afterEach(() => fx.cleanup())

const sandboxLayer = () =>
  Sandbox.layer.pipe(Layer.provide(AppConfig.layerFromInput({ tools: { workingDir: fx.root }, logging: { enableConsole: false } })))

const resolve = (input: string) => Sandbox.use((sandbox) => sandbox.resolve(input)).pipe(Effect.provide(sandboxLayer()))

/** Resolves `input`, expecting a PathRefused whose message names the path and contains each of `causes`. */
const refused = (input: string, ...causes: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(resolve(input))
    assert.instanceOf(error, PathRefused)
    assert.strictEqual(error._tag, "PathRefused")
    assert.strictEqual(error.path, input)
    assert.include(error.message, JSON.stringify(input))
    assert.include(error.message, "refused")
    for (const cause of causes) assert.include(error.message, cause)
    return error
  })

describe("Sandbox.resolve: allowed paths", () => {
  it.effect("a plain relative path", () =>
    Effect.gen(function*() {
      const resolved = yield* resolve("a.txt")
      assert.deepStrictEqual(resolved, { absolute: path.join(fx.root, "a.txt"), relative: "a.txt" })
    }))

  it.effect("\".\" and \"\" are the working folder itself", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* resolve("."), { absolute: fx.root, relative: "." })
      assert.deepStrictEqual(yield* resolve(""), { absolute: fx.root, relative: "." })
      assert.deepStrictEqual(yield* resolve("./"), { absolute: fx.root, relative: "." })
    }))

  it.effect("a nested path, and one with a harmless .. that stays inside", () =>
    Effect.gen(function*() {
      const nested = yield* resolve("sub/dir/file.txt")
      assert.strictEqual(nested.relative, path.join("sub", "dir", "file.txt"))
      assert.strictEqual(nested.absolute, path.join(fx.root, "sub", "dir", "file.txt"))
      assert.strictEqual((yield* resolve("sub/../a.txt")).relative, "a.txt")
    }))

  it.effect("a path that does not exist yet, inside", () =>
    Effect.gen(function*() {
      const resolved = yield* resolve("new/deeper/file.txt")
      assert.strictEqual(resolved.absolute, path.join(fx.root, "new", "deeper", "file.txt"))
      assert.strictEqual(resolved.relative, path.join("new", "deeper", "file.txt"))
    }))

  it.effect("an absolute path inside the working folder", () =>
    Effect.gen(function*() {
      const resolved = yield* resolve(path.join(fx.root, "sub", "dir", "file.txt"))
      assert.strictEqual(resolved.relative, path.join("sub", "dir", "file.txt"))
    }))

  it.effect("a symbolic link inside pointing inside: relative is the real target", () =>
    Effect.gen(function*() {
      link(fx.root, "alias.txt", path.join("real", "target.txt"))
      link(fx.root, "linked-dir", path.join(fx.root, "real"))
      const file = yield* resolve("alias.txt")
      assert.deepStrictEqual(file, { absolute: path.join(fx.root, "real", "target.txt"), relative: path.join("real", "target.txt") })
      const throughFolder = yield* resolve("linked-dir/target.txt")
      assert.strictEqual(throughFolder.relative, path.join("real", "target.txt"))
      const newUnderFolder = yield* resolve("linked-dir/new.txt")
      assert.strictEqual(newUnderFolder.relative, path.join("real", "new.txt"))
    }))

  it.effect("a file whose name starts with two dots (\"..notes\") is inside", () =>
    Effect.gen(function*() {
      put(fx.root, "..notes", "inside")
      const resolved = yield* resolve("..notes")
      assert.strictEqual(resolved.relative, "..notes")
    }))
})

describe("Sandbox.resolve: refused paths", () => {
  it.effect("escapes by ..", () =>
    Effect.gen(function*() {
      yield* refused("../x", "outside the working directory", fx.root)
      yield* refused("a/../../x", "outside the working directory")
      yield* refused("sub/dir/../../../" + path.basename(fx.outside) + "/secret.txt", "outside the working directory")
      yield* refused("..", "outside the working directory")
    }))

  it.effect("an absolute path outside", () =>
    Effect.gen(function*() {
      yield* refused(fx.secret, "outside the working directory")
      yield* refused("/etc/passwd", "outside the working directory")
    }))

  it.effect("a NUL byte", () => refused("a.txt\0.png", "NUL byte"))

  it.effect("a path longer than 4096 characters", () => refused("d/".repeat(2100) + "f", "longer than 4096 characters"))

  it.effect("a name longer than 255 characters", () =>
    Effect.gen(function*() {
      yield* refused("x".repeat(256), "longer than 255 characters")
      yield* refused(`sub/${"y".repeat(300)}/f.txt`, "longer than 255 characters")
      // exactly 255 is allowed
      assert.strictEqual((yield* resolve("z".repeat(255))).relative, "z".repeat(255))
    }))

  it.effect("a symbolic link to a file outside", () =>
    Effect.gen(function*() {
      link(fx.root, "leak.txt", fx.secret)
      yield* refused("leak.txt", "symbolic link", fx.secret, "outside the working directory")
      link(fx.root, "relative-leak.txt", path.relative(fx.root, fx.secret))
      yield* refused("relative-leak.txt", "symbolic link", "outside the working directory")
    }))

  it.effect("a symbolic link to a folder outside, as a parent", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      yield* refused("out/secret.txt", "symbolic link", "outside the working directory")
      yield* refused("out", "symbolic link", fx.outside)
      yield* refused("sub/../out/secret.txt", "outside the working directory")
    }))

  it.effect("a path that does not exist yet under a symbolic link to a folder outside", () =>
    Effect.gen(function*() {
      link(fx.root, "out", fx.outside)
      yield* refused("out/new.txt", "symbolic link", fx.outside)
      yield* refused("out/deep/er/new.txt", "outside the working directory")
      assert.isFalse(fs.existsSync(path.join(fx.outside, "new.txt")))
    }))

  it.effect("a dangling symbolic link", () =>
    Effect.gen(function*() {
      link(fx.root, "dangling", path.join(fx.root, "missing.txt"))
      link(fx.root, "dangling-out", path.join(fx.outside, "missing.txt"))
      yield* refused("dangling", "symbolic link whose target does not exist")
      yield* refused("dangling-out", "symbolic link whose target does not exist")
    }))

  it.effect("a symbolic link loop", () =>
    Effect.gen(function*() {
      link(fx.root, "loop-a", "loop-b")
      link(fx.root, "loop-b", "loop-a")
      yield* refused("loop-a", "symbolic link")
      yield* refused("loop-a/child.txt", "symbolic link")
    }))
})

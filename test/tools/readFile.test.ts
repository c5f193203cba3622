/** read_file through the Router, on real files and real symbolic links. */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { InvalidArguments } from "../../src/router/RouterErrors.ts"
import { callTool, type Fixture, link, makeFixture, put, runWith, secretText, structured, textOf } from "./fixtures.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const read = (args: unknown, tools: Record<string, unknown> = {}) => runWith(fx.root, callTool("read_file", args), tools)

/** Expects an isError result whose message contains each of `parts`; never the secret. */
const readFails = (args: unknown, ...parts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const output = yield* read(args)
    assert.isTrue(output.isError, `expected isError, got ${textOf(output)}`)
    for (const part of parts) assert.include(textOf(output), part)
    assert.notInclude(textOf(output), secretText)
    return textOf(output)
  })

/** Expects InvalidArguments naming `field` among its problems. */
const invalid = (args: unknown, field: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(read(args))
    assert.instanceOf(error, InvalidArguments)
    if (!(error instanceof InvalidArguments)) return
    assert.strictEqual(error.tool, "read_file")
    assert.isTrue(error.problems.some((p) => p.path === field), `no problem at ${field}: ${error.message}`)
    assert.include(error.message, field)
    assert.include(error.message, "read_file")
  })

describe("read_file: contents", () => {
  it.effect("reads a whole file as utf8", () =>
    Effect.gen(function*() {
      put(fx.root, "notes/hello.txt", "héllo wörld\nline 2\n")
      const output = yield* read({ path: "notes/hello.txt" })
      assert.isUndefined(output.isError)
      assert.strictEqual(textOf(output), "héllo wörld\nline 2\n")
      const size = Buffer.byteLength("héllo wörld\nline 2\n")
      assert.deepStrictEqual(structured(output), {
        path: path.join("notes", "hello.txt"),
        size,
        offset: 0,
        bytesRead: size,
        encoding: "utf8"
      })
    }))

  it.effect("reads an empty file", () =>
    Effect.gen(function*() {
      put(fx.root, "empty.txt", "")
      const output = yield* read({ path: "empty.txt" })
      assert.strictEqual(textOf(output), "")
      assert.strictEqual(structured(output)["bytesRead"], 0)
    }))

  it.effect("base64 round-trips binary bytes", () =>
    Effect.gen(function*() {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))
      put(fx.root, "all-bytes.bin", bytes)
      const output = yield* read({ path: "all-bytes.bin", encoding: "base64" })
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(Buffer.from(textOf(output), "base64"), bytes)
      assert.strictEqual(structured(output)["encoding"], "base64")
      assert.strictEqual(structured(output)["bytesRead"], 256)
    }))

  it.effect("an explicit utf8 encoding", () =>
    Effect.gen(function*() {
      put(fx.root, "a.txt", "abc")
      assert.strictEqual(textOf(yield* read({ path: "a.txt", encoding: "utf8" })), "abc")
    }))

  it.effect("reads byte ranges with offset and length", () =>
    Effect.gen(function*() {
      put(fx.root, "digits.txt", "0123456789")
      const middle = yield* read({ path: "digits.txt", offset: 3, length: 4 })
      assert.strictEqual(textOf(middle), "3456")
      assert.deepStrictEqual(structured(middle), { path: "digits.txt", size: 10, offset: 3, bytesRead: 4, encoding: "utf8" })
      const tail = yield* read({ path: "digits.txt", offset: 7 })
      assert.strictEqual(textOf(tail), "789")
      assert.strictEqual(structured(tail)["bytesRead"], 3)
      const head = yield* read({ path: "digits.txt", length: 2 })
      assert.strictEqual(textOf(head), "01")
      // a length running past the end is cut at the end
      const clipped = yield* read({ path: "digits.txt", offset: 8, length: 100 })
      assert.strictEqual(textOf(clipped), "89")
      assert.strictEqual(structured(clipped)["bytesRead"], 2)
    }))

  it.effect("an offset beyond the end reads nothing", () =>
    Effect.gen(function*() {
      put(fx.root, "digits.txt", "0123456789")
      for (const offset of [10, 1000]) {
        const output = yield* read({ path: "digits.txt", offset })
        assert.isUndefined(output.isError)
        assert.strictEqual(textOf(output), "")
        assert.deepStrictEqual(structured(output), { path: "digits.txt", size: 10, offset, bytesRead: 0, encoding: "utf8" })
      }
    }))

  it.effect("reads through a symbolic link that stays inside", () =>
    Effect.gen(function*() {
      put(fx.root, "real/target.txt", "target")
      link(fx.root, "alias.txt", "real/target.txt")
      const output = yield* read({ path: "alias.txt" })
      assert.strictEqual(textOf(output), "target")
      assert.strictEqual(structured(output)["path"], path.join("real", "target.txt"))
    }))
})

describe("read_file: small reads (synchronous) and large ones (thread pool) alike", () => {
  // fd.smallReadBytes is 64 KiB: reads on both sides of it, whole and in ranges, give the file's bytes
  it.effect("whole files and ranges either side of the 64 KiB bound", () =>
    Effect.gen(function*() {
      const bytes = Buffer.from(Array.from({ length: 200 * 1024 }, (_, i) => (i * 7 + (i >> 9)) % 256))
      put(fx.root, "big.bin", bytes)
      for (const [offset, length] of [[0, 65535], [0, 65536], [0, 65537], [1, 65536], [100_000, 102_400], [0, bytes.length]] as const) {
        const output = yield* read({ path: "big.bin", encoding: "base64", offset, length })
        assert.isUndefined(output.isError, textOf(output))
        assert.isTrue(Buffer.from(textOf(output), "base64").equals(bytes.subarray(offset, offset + length)), `bytes ${offset}+${length}`)
        assert.strictEqual(structured(output)["bytesRead"], length)
      }
    }))

  it.effect("a file another program holds a lease on is refused at once, not waited for", () =>
    Effect.gen(function*() {
      put(fx.root, "leased.txt", "held")
      const holder = yield* Effect.acquireRelease(
        Effect.promise(() => leaseHolder(path.join(fx.root, "leased.txt"))),
        (child) => Effect.sync(() => child.kill("SIGKILL"))
      )
      assert.isDefined(holder.pid)
      const started = Date.now()
      const output = yield* read({ path: "leased.txt" })
      // an open that waited would take the lease-break time (45 s by default); this one fails at once
      assert.isBelow(Date.now() - started, 5_000)
      assert.isTrue(output.isError)
      assert.include(textOf(output), "leased.txt is held by another program (a file lease)")
      // a file beside it reads as ever
      put(fx.root, "free.txt", "free")
      assert.strictEqual(textOf(yield* read({ path: "free.txt" })), "free")
    }).pipe(Effect.scoped))
})

/** A process holding a write lease (fcntl F_SETLEASE, F_WRLCK) on `file` until it is killed; resolves once it holds it. */
const leaseHolder = (file: string) =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn("python3", ["-c", [
      "import fcntl, os, signal, sys, time",
      "signal.signal(signal.SIGIO, lambda *_: None)",
      "fd = os.open(sys.argv[1], os.O_RDONLY)",
      "fcntl.fcntl(fd, 1024, fcntl.F_WRLCK)",
      "print('leased', flush=True)",
      "time.sleep(120)"
    ].join("\n"), file], { stdio: ["ignore", "pipe", "pipe"] })
    let errors = ""
    child.stderr.on("data", (chunk) => (errors += chunk))
    child.stdout.once("data", () => resolve(child))
    child.once("exit", (code) => reject(new Error(`the lease holder exited (${code}): ${errors}`)))
  })

describe("read_file: tools.maxReadBytes", () => {
  it.effect("a file over the limit is refused, but a range within it is read", () =>
    Effect.gen(function*() {
      put(fx.root, "big.txt", "x".repeat(150) + "END")
      const config = { maxReadBytes: 100 }
      const whole = yield* read({ path: "big.txt" }, config)
      assert.isTrue(whole.isError)
      assert.include(textOf(whole), "big.txt")
      assert.include(textOf(whole), "153 bytes")
      assert.include(textOf(whole), "tools.maxReadBytes")
      assert.include(textOf(whole), "offset and length")
      const range = yield* read({ path: "big.txt", offset: 100, length: 100 }, config)
      assert.isUndefined(range.isError)
      assert.strictEqual(textOf(range), "x".repeat(50) + "END")
      const exact = yield* read({ path: "big.txt", length: 100 }, config)
      assert.strictEqual(structured(exact)["bytesRead"], 100)
      const tooLong = yield* read({ path: "big.txt", length: 101 }, config)
      assert.isTrue(tooLong.isError)
      assert.include(textOf(tooLong), "tools.maxReadBytes")
    }))
})

describe("read_file: failures are isError results naming the path and cause", () => {
  it.effect("a directory", () =>
    Effect.gen(function*() {
      put(fx.root, "folder/inside.txt", "x")
      yield* readFails({ path: "folder" }, "folder", "not a regular file")
      yield* readFails({ path: "." }, "not a regular file")
    }))

  it.effect("a missing file", () =>
    Effect.gen(function*() {
      yield* readFails({ path: "missing.txt" }, "missing.txt", "does not exist")
      yield* readFails({ path: "no/such/folder/f.txt" }, path.join("no", "such", "folder", "f.txt"), "does not exist")
    }))

  it.effect("escapes by .. and by absolute path", () =>
    Effect.gen(function*() {
      yield* readFails({ path: "../x" }, "\"../x\"", "outside the working directory")
      const up = path.join("..", path.basename(fx.outside), "secret.txt")
      yield* readFails({ path: up }, JSON.stringify(up), "outside the working directory")
      yield* readFails({ path: fx.secret }, "outside the working directory")
    }))

  it.effect("escapes by symbolic links to a file or folder outside", () =>
    Effect.gen(function*() {
      link(fx.root, "leak.txt", fx.secret)
      link(fx.root, "out", fx.outside)
      yield* readFails({ path: "leak.txt" }, "leak.txt", "symbolic link", "outside the working directory")
      yield* readFails({ path: "out/secret.txt" }, "out/secret.txt", "symbolic link", "outside the working directory")
    }))

  it.effect("a dangling symbolic link and a loop", () =>
    Effect.gen(function*() {
      link(fx.root, "dangling", "missing.txt")
      link(fx.root, "loop-a", "loop-b")
      link(fx.root, "loop-b", "loop-a")
      yield* readFails({ path: "dangling" }, "dangling", "target does not exist")
      yield* readFails({ path: "loop-a" }, "loop-a", "symbolic link")
    }))
})

describe("read_file: invalid arguments", () => {
  it.effect("path is not a string", () => invalid({ path: 5 }, "path"))
  it.effect("an unknown key", () => invalid({ path: "a.txt", foo: 1 }, "foo"))
  it.effect("an unknown encoding", () => invalid({ path: "a.txt", encoding: "latin1" }, "encoding"))
  it.effect("a negative offset", () => invalid({ path: "a.txt", offset: -1 }, "offset"))
  it.effect("a fractional offset", () => invalid({ path: "a.txt", offset: 1.5 }, "offset"))
  it.effect("a zero length", () => invalid({ path: "a.txt", length: 0 }, "length"))
  it.effect("a missing path", () => invalid({}, "path"))
  it.effect("no arguments at all", () => invalid(undefined, "path"))

  it.effect("every problem is reported at once", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(read({ path: 5, encoding: "latin1", foo: true }))
      assert.instanceOf(error, InvalidArguments)
      if (!(error instanceof InvalidArguments)) return
      const fields = error.problems.map((p) => p.path).sort()
      assert.deepStrictEqual(fields, ["encoding", "foo", "path"])
    }))
})

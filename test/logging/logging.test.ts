import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { LogBuffer, makeLoggingLayer } from "../../src/logging/Logging.ts"

const dirs: Array<string> = []
const tempDir = () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-logs-"))
  dirs.push(dir)
  return dir
}
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

const withLogging = <A, E>(logging: Record<string, unknown>, program: Effect.Effect<A, E, LogBuffer | AppConfig>) => {
  const config = AppConfig.layerFromInput({ logging: { enableConsole: false, ...logging } })
  return Effect.runPromise(Effect.scoped(program.pipe(Effect.provide(makeLoggingLayer().pipe(Layer.provideMerge(config))))))
}

describe("logging", () => {
  it("keeps recent entries with annotations, filtered by level and limit", async () => {
    const result = await withLogging({ level: "info", bufferSize: 3 }, Effect.gen(function*() {
      yield* Effect.logDebug("not kept at info")
      yield* Effect.logInfo("one").pipe(Effect.annotateLogs({ tool: "read_file" }))
      yield* Effect.logWarning("two")
      yield* Effect.logError("three")
      yield* Effect.logInfo("four")
      const buffer = yield* LogBuffer
      return { all: buffer.recent({}), errors: buffer.recent({ level: "error" }), last: buffer.recent({ limit: 1 }) }
    }))
    expect(result.all.map((e) => e.message)).toEqual(["two", "three", "four"])
    expect(result.errors.map((e) => e.message)).toEqual(["three"])
    expect(result.last.map((e) => e.message)).toEqual(["four"])
  })

  it("applies a runtime level change at once", async () => {
    const messages = await withLogging({ level: "warn" }, Effect.gen(function*() {
      yield* Effect.logInfo("hidden")
      yield* (yield* AppConfig).update({ "logging.level": "debug" })
      yield* Effect.logDebug("shown")
      return (yield* LogBuffer).recent({}).map((e) => e.message)
    }))
    expect(messages).toEqual(["shown"])
  })

  it("never keeps a key or an Authorization header", async () => {
    const key = "mcp_c2VjcmV0LWtleS1mb3ItdGVzdGluZy1wdXJwb3Nlcw"
    const dir = tempDir()
    const entries = await withLogging({ enableFile: true, logDir: dir }, Effect.gen(function*() {
      yield* Effect.logInfo(`request with ${key}`).pipe(Effect.annotateLogs({ authorization: `Bearer ${key}` }))
      return (yield* LogBuffer).recent({})
    }))
    expect(JSON.stringify(entries)).not.toContain(key)
    expect(fs.readFileSync(path.join(dir, "mcp-router.log"), "utf8")).not.toContain(key)
  })

  it("writes JSON lines to a file and rotates it by size, keeping maxFiles old files", async () => {
    const dir = tempDir()
    await withLogging({ enableFile: true, logDir: dir, maxFileBytes: 1024, maxFiles: 2 }, Effect.gen(function*() {
      for (let i = 0; i < 60; i++) yield* Effect.logInfo(`entry number ${i} ${"x".repeat(40)}`)
    }))
    const files = fs.readdirSync(dir).sort()
    expect(files).toEqual(["mcp-router.log", "mcp-router.log.1", "mcp-router.log.2"])
    const current = fs.readFileSync(path.join(dir, "mcp-router.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l))
    expect(current.at(-1)).toMatchObject({ level: "info", message: expect.stringContaining("entry number 59") })
    for (const file of files) expect(fs.statSync(path.join(dir, file)).size).toBeLessThanOrEqual(1024)
  })

  it("creates the log folder when it is missing", async () => {
    const dir = path.join(tempDir(), "nested", "logs")
    await withLogging({ enableFile: true, logDir: dir }, Effect.logInfo("hello"))
    expect(fs.readFileSync(path.join(dir, "mcp-router.log"), "utf8")).toContain("hello")
  })
})

import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Fiber, Stream } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { ConfigError } from "../../src/config/ConfigError.ts"

const cwd = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-appconfig-")))
afterAll(() => fs.rmSync(cwd, { recursive: true, force: true }))

/** The AppConfig service built by layerFromInput on a file-form input, in the temporary cwd. */
const service = (input: unknown = {}) =>
  Effect.provide(Effect.gen(function*() { return yield* AppConfig }), AppConfig.layerFromInput(input, cwd))

/** Runs an update expected to fail, and returns its ConfigError. */
const failedUpdate = (config: AppConfig["Service"], changes: Record<string, unknown>, options?: { readonly dryRun?: boolean }) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(config.update(changes, options))
    expect(error).toBeInstanceOf(ConfigError)
    expect(error._tag).toBe("ConfigError")
    expect(error.source).toBe("update")
    return error
  })

describe("AppConfig.layerFromInput", () => {
  it.effect("exposes the validated input, with defaults, through current() and get", () =>
    Effect.gen(function*() {
      const config = yield* service({ server: { port: 4100 }, tools: { workingDir: "." } })
      expect(config.current().server.port).toBe(4100)
      expect(config.current().server.host).toBe("0.0.0.0")
      expect(config.current().tools.workingDir).toBe(cwd)
      const got = yield* config.get
      expect(got).toEqual(config.current())
    }))

  it.effect("fails with a ConfigError naming the field for an invalid input", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(service({ server: { port: "x" } }))
      expect(error._tag).toBe("ConfigError")
      expect(error.message).toBe("Invalid configuration (input):\n  - server.port: Expected number, got \"x\"")
    }))
})

describe("AppConfig.update", () => {
  it.effect("applies dotted-path changes and keeps every other key", () =>
    Effect.gen(function*() {
      const config = yield* service({ security: { adminKey: "admin-secret" } })
      const next = yield* config.update({ "server.port": 4200, "logging.level": "debug", "tools.allowedCommands": ["git"] })
      expect(next.server.port).toBe(4200)
      expect(next.logging.level).toBe("debug")
      expect(next.tools.allowedCommands).toEqual(["git"])
      expect(config.current()).toEqual(next)
      expect(yield* config.get).toEqual(next)
      expect(config.current().server.host).toBe("0.0.0.0")
      expect(config.current().security.adminKey).toBe("admin-secret")
      // the default working folder, created on start
      expect(config.current().tools.workingDir).toBe(path.join(cwd, "workspace"))
    }))

  it.effect("replaces a whole section given by its top-level key, filling its defaults", () =>
    Effect.gen(function*() {
      const config = yield* service({ websocket: { maxConnections: 5 } })
      yield* config.update({ websocket: {} })
      expect(config.current().websocket.maxConnections).toBe(200)
    }))

  const invalid: ReadonlyArray<readonly [Record<string, unknown>, string]> = [
    [{ "server.port": -1 }, "server.port: Expected a value between 0 and 65535, got -1"],
    [{ "logging.level": "loud" }, "logging.level: Expected \"trace\" | \"debug\" | \"info\" | \"warn\" | \"error\" | \"fatal\" | \"none\", got \"loud\""],
    [{ "nope.x": 1 }, "nope: unknown key; remove it or check its spelling"],
    [{ "server.prot": 1 }, "server.prot: unknown key; remove it or check its spelling"],
    [{ "security.requireApiKey": "yes" }, "security.requireApiKey: Expected boolean, got \"yes\""]
  ]
  for (const [changes, problem] of invalid) {
    it.effect(`rejects ${JSON.stringify(changes)} naming the field, and changes nothing`, () =>
      Effect.gen(function*() {
        const config = yield* service()
        const before = config.current()
        const error = yield* failedUpdate(config, changes)
        expect(error.problems).toEqual([problem])
        expect(config.current()).toBe(before)
        expect(yield* config.get).toBe(before)
      }))
  }

  it.effect("applies nothing when one change of an update is valid and another is not", () =>
    Effect.gen(function*() {
      const config = yield* service()
      const error = yield* failedUpdate(config, { "server.port": 4300, "logging.level": "loud" })
      expect(error.problems).toHaveLength(1)
      expect(error.problems[0]).toMatch(/^logging\.level: /)
      expect(config.current().server.port).toBe(3001)
      expect(config.current().logging.level).toBe("info")
    }))

  it.effect("rejects a workingDir that does not exist, naming tools.workingDir", () =>
    Effect.gen(function*() {
      const config = yield* service()
      const error = yield* failedUpdate(config, { "tools.workingDir": "no-such-folder" })
      expect(error.problems).toHaveLength(1)
      expect(error.problems[0]).toMatch(/^tools\.workingDir: expected an existing folder, got "no-such-folder"/)
      // an update never creates folders (only start-up creates the working folder)
      expect(fs.existsSync(path.join(cwd, "no-such-folder"))).toBe(false)
      expect(config.current().tools.workingDir).toBe(path.join(cwd, "workspace"))
    }))

  it.effect("dryRun validates and returns the result without applying it", () =>
    Effect.gen(function*() {
      const config = yield* service()
      const preview = yield* config.update({ "server.port": 4400 }, { dryRun: true })
      expect(preview.server.port).toBe(4400)
      expect(config.current().server.port).toBe(3001)
      const error = yield* failedUpdate(config, { "server.port": 70000 }, { dryRun: true })
      expect(error.problems).toEqual(["server.port: Expected a value between 0 and 65535, got 70000"])
    }))

  // prototype pollution: a dotted path must never reach Object.prototype
  it("refuses a \"__proto__\" path instead of writing to Object.prototype", async () => {
    const config = await Effect.runPromise(service())
    const exit = await Effect.runPromiseExit(config.update({ "__proto__.pollutedByUpdate": "yes" }))
    const polluted = ({} as Record<string, unknown>)["pollutedByUpdate"]
    delete (Object.prototype as unknown as Record<string, unknown>)["pollutedByUpdate"]
    expect(polluted).toBeUndefined()
    expect(exit._tag).toBe("Failure")
  })
})

/** Collects the first two configurations `changes` emits, once the subscription is live. */
const firstTwoChanges = (config: AppConfig["Service"]) =>
  Effect.gen(function*() {
    const subscribed = yield* Deferred.make<void>()
    const fiber = yield* config.changes.pipe(
      Stream.tap(() => Deferred.succeed(subscribed, undefined)),
      Stream.take(2),
      Stream.runCollect,
      Effect.forkChild
    )
    yield* Deferred.await(subscribed)
    return fiber
  })

describe("AppConfig.changes", () => {
  it.effect("emits the current configuration, then the one applied by an update", () =>
    Effect.gen(function*() {
      const config = yield* service()
      const fiber = yield* firstTwoChanges(config)
      yield* config.update({ "logging.level": "warn" })
      const seen = yield* Fiber.join(fiber)
      expect(seen.map((c) => c.logging.level)).toEqual(["info", "warn"])
    }))

  it.effect("does not emit for a dry run or a rejected update", () =>
    Effect.gen(function*() {
      const config = yield* service()
      const fiber = yield* firstTwoChanges(config)
      yield* config.update({ "server.port": 4500 }, { dryRun: true })
      yield* Effect.exit(config.update({ "server.port": -5 }))
      yield* config.update({ "server.port": 4600 })
      const seen = yield* Fiber.join(fiber)
      expect(seen.map((c) => c.server.port)).toEqual([3001, 4600])
    }))
})

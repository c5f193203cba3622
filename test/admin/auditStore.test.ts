/**
 * The audit store under the call path: group commit (a result only after its entry is committed), a
 * failing store refusing calls and coming back by itself, the sequence number that makes gaps visible,
 * and argument digests that never throw whatever the arguments.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Deferred, Effect, Exit, Fiber, Layer, Metric, Schema } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterAll } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { routerCoreLayer } from "../../src/main.ts"
import { Events } from "../../src/observability/Events.ts"
import { Readiness } from "../../src/observability/Readiness.ts"
import { Router } from "../../src/router/Router.ts"
import { routerErrorToJsonRpc } from "../../src/router/wire.ts"
import { type AuditEvent, AuditLog, safeJson, summariseArguments, writeJson } from "../../src/security/AuditLog.ts"
import { databaseFile, DatabaseLayer } from "../../src/storage/Database.ts"
import { migrations } from "../../src/storage/migrations.ts"
import { layerNodeSqlite } from "../../src/storage/NodeSqliteClient.ts"
import { defineTool, jsonOutput } from "../../src/tools/ToolDefinition.ts"
import { ToolRegistry } from "../../src/tools/ToolRegistry.ts"
import { makeTempDir } from "./support.ts"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})
const freshDir = () => {
  const dir = makeTempDir("mcp-auditstore-")
  dirs.push(dir)
  return dir
}

const digestOf = (value: unknown) => createHash("sha256").update(JSON.stringify(value)).digest("hex").slice(0, 16)

/** `{"a":{"a":...}}` nested `depth` levels, built without recursion. */
const nested = (depth: number, leaf: unknown = { end: true }): unknown => {
  let value: unknown = leaf
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}
const nestedArrays = (depth: number): unknown => {
  let value: unknown = []
  for (let i = 0; i < depth; i++) value = [value]
  return value
}

// ---------------------------------------------------------------------------------------------------

describe("argument digests", () => {
  it("write exactly what JSON.stringify writes for plain data", () => {
    const samples: Array<unknown> = [
      null, true, false, 0, -0, 1.5, -1e21, 1e-7, NaN, Infinity, "", "héllo \"quoted\" \\ \n\t\u0000 \u2028", "\ud800 lone surrogate",
      [], {}, [1, "a", null, undefined, () => 1, Symbol("s")], { a: undefined, b: () => 1, c: Symbol("s"), d: 1 },
      { z: 1, a: 2, 10: "ten", 2: "two" }, { date: new Date(0), nested: { list: [{ x: [[]] }] } },
      { toJSON: (key: string) => `custom ${key}` }, { inner: { toJSON: (key: string) => ({ key }) } },
      [new Number(3), new String("s"), new Boolean(false)], new Map([[1, 2]]), new Uint8Array([1, 2]),
      { path: "notes.txt", content: "x".repeat(1000) }, nested(500), nestedArrays(500)
    ]
    for (const sample of samples) {
      expect(safeJson(sample)).toBe(JSON.stringify(sample) ?? "null")
      expect(summariseArguments(sample).argumentsDigest).toBe(digestOf(sample ?? null))
    }
    expect(summariseArguments(undefined).argumentsDigest).toBe(digestOf(null))
  })

  it.each([
    ["4,388 levels of objects", nested(4388)],
    ["500,000 levels of objects", nested(500_000)],
    ["500,000 levels of arrays", nestedArrays(500_000)]
  ])("never throw on %s (JSON.stringify overflows the stack)", (_name, value) => {
    expect(() => JSON.stringify(value)).toThrow(RangeError)
    const summary = summariseArguments(value)
    expect(summary.argumentsDigest).toMatch(/^[0-9a-f]{16}$/)
    expect(summary.argumentsTruncated).toBeUndefined()
    // the digest is of the JSON text, streamed: the same text as built by hand
    const hash = createHash("sha256")
    writeJson(value, (chunk) => void hash.update(chunk))
    expect(summary.argumentsDigest).toBe(hash.digest("hex").slice(0, 16))
  })

  it("never throw on cycles, BigInt, throwing getters, proxies and toJSON", () => {
    const cyclic: Record<string, unknown> = { name: "loop" }
    cyclic.self = cyclic
    cyclic.list = [cyclic]
    expect(safeJson(cyclic)).toBe("{\"name\":\"loop\",\"self\":\"[Circular]\",\"list\":[\"[Circular]\"]}")
    // the same object twice, not in a cycle, is written twice
    const shared = { v: 1 }
    expect(safeJson({ a: shared, b: shared })).toBe("{\"a\":{\"v\":1},\"b\":{\"v\":1}}")
    expect(safeJson({ n: 10n })).toBe("{\"n\":\"10\"}")
    const hostile: Array<unknown> = [
      { get boom() { throw new Error("getter") } },
      new Proxy({}, { ownKeys: () => { throw new Error("trap") } }),
      new Proxy([], { get: () => { throw new Error("trap") } }),
      { toJSON: () => { throw new Error("toJSON") } },
      Object.create(null)
    ]
    for (const value of hostile) {
      expect(() => summariseArguments(value)).not.toThrow()
      expect(summariseArguments(value).argumentsDigest).toMatch(/^[0-9a-f]{16}$/)
    }
    expect(summariseArguments(hostile[0]).argumentsTruncated).toBe(true)
    expect(summariseArguments(new Proxy({}, { ownKeys: () => { throw new Error("trap") } })).argumentNames).toEqual([])
  })

  it("stop after a bounded number of values (shared references that would expand exponentially)", () => {
    let value: unknown = { leaf: 1 }
    for (let i = 0; i < 60; i++) value = { l: value, r: value } // 2^60 nodes when expanded
    const summary = summariseArguments(value)
    expect(summary.argumentsTruncated).toBe(true)
    let chunks = 0
    expect(writeJson(value, () => void chunks++, 10_000)).toBe(false)
    expect(chunks).toBeLessThan(100_000)
  })

  it("keep argument names short and few", () => {
    const args = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`${i}`.padEnd(i === 0 ? 5000 : 3, "x"), i]))
    const { argumentNames } = summariseArguments(args)
    expect(argumentNames).toHaveLength(50)
    expect(argumentNames.every((name) => name.length <= 101)).toBe(true)
  })
})

// ---------------------------------------------------------------------------------------------------
// A Router on a real database, with a tool that records that it ran

const ran: Array<string> = []
/** Released by a test to let `hold` calls finish. */
let gate: Deferred.Deferred<void> | undefined
const TestTools = ToolRegistry.provide(Effect.succeed([
  defineTool({
    name: "mark",
    description: "Records that it ran",
    input: Schema.Struct({ id: Schema.String, data: Schema.optionalKey(Schema.Unknown) }),
    annotations: { readOnlyHint: false, openWorldHint: false },
    handler: ({ id }) => Effect.sync(() => {
      ran.push(id)
      return jsonOutput({ id })
    })
  }),
  defineTool({
    name: "hold",
    description: "Waits for the test's gate",
    input: Schema.Struct({ id: Schema.String }),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: ({ id }) => Effect.gen(function*() {
      ran.push(id)
      if (gate !== undefined) yield* Deferred.await(gate)
      return jsonOutput({ id })
    })
  })
]))

const caller = { transport: "jsonrpc" as const, permissions: ["*"], keyId: "key_test", keyName: "test" }

/** Router, AuditLog, Readiness and the SqlClient on a database in `dataDir`, built in the current scope. */
const openRouter = (dataDir: string, options: { readonly probeIntervalMs?: number; readonly maxPending?: number } = {}) =>
  Effect.map(
    Layer.build(
      Layer.mergeAll(routerCoreLayer(TestTools), Readiness.layer).pipe(
        Layer.provideMerge(AuditLog.layerWithSinkWith({ probeIntervalMs: 100, ...options }).pipe(Layer.provideMerge(DatabaseLayer))),
        Layer.provide(Events.layer),
        Layer.provide(Layer.sync(Metric.MetricRegistry, () => new Map())),
        Layer.provideMerge(AppConfig.layerFromInput({
          storage: { dataDir },
          tools: { workingDir: freshDir(), maxArgumentDepth: 1000 },
          logging: { enableConsole: false }
        }))
      )
    ),
    (context) => ({
      router: Context.get(context, Router),
      log: Context.get(context, AuditLog),
      sql: Context.get(context, SqlClient.SqlClient),
      readiness: Context.get(context, Readiness)
    })
  )

const rows = (sql: SqlClient.SqlClient) =>
  sql<{ id: number; seq: number | null; target: string; outcome: string; details: string }>`SELECT id, seq, target, outcome, details FROM audit_log ORDER BY id`

/** Turns every insert into the audit table into SQLite's "disk full" error, until `heal`. */
const breakInserts = (sql: SqlClient.SqlClient) =>
  sql`CREATE TRIGGER audit_full BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`
const heal = (sql: SqlClient.SqlClient) => sql`DROP TRIGGER audit_full`

const waitUntil = <A, E>(effect: Effect.Effect<A, E>, done: (a: A) => boolean) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200; i++) {
      const value = yield* effect
      if (done(value)) return value
      yield* Effect.sleep("50 millis")
    }
    return yield* Effect.die(new Error("condition not reached in 10 s"))
  })

describe("the call path and its audit entry", () => {
  it.live("500 concurrent calls: 500 entries, each call's own, and a chain that verifies", () =>
    Effect.gen(function*() {
      const { router, log, sql } = yield* openRouter(freshDir())
      const ids = Array.from({ length: 500 }, (_, i) => `c${i}`)
      const results = yield* Effect.forEach(ids, (id) => router.call(caller, "mark", { id }), { concurrency: "unbounded" })
      expect(results.every((r) => r.isError !== true)).toBe(true)
      // every result was returned after its entry was committed: no flush needed to see them
      const written = yield* rows(sql)
      expect(written).toHaveLength(500)
      const digests = new Set(written.map((r) => JSON.parse(r.details).argumentsDigest))
      for (const id of ids) expect(digests.has(digestOf({ id }))).toBe(true)
      expect(written.map((r) => r.seq)).toEqual(written.map((r) => r.id))
      expect(written.map((r) => r.id)).toEqual(Array.from({ length: 500 }, (_, i) => i + 1))
      expect(yield* log.verify).toEqual({ ok: true, checked: 500 })
    }))

  it.live("a call returns only once its entry is in the database; an interrupted call is audited too", () =>
    Effect.gen(function*() {
      const dataDir = freshDir()
      const { router, log } = yield* openRouter(dataDir)
      yield* router.call(caller, "mark", { id: "seen" })
      // read by another connection, as a crash would leave the file
      const other = new DatabaseSync(databaseFile(dataDir), { readOnly: true })
      try {
        expect((other.prepare("SELECT COUNT(*) AS n FROM audit_log").get() as { n: number }).n).toBe(1)
      } finally {
        other.close()
      }
      gate = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(router.call(caller, "hold", { id: "interrupted" }))
      yield* waitUntil(Effect.sync(() => ran), (list) => list.includes("interrupted"))
      yield* Fiber.interrupt(fiber)
      gate = undefined
      yield* log.flush
      const { entries } = yield* log.query({ limit: 10, offset: 0 })
      expect(entries[0]).toMatchObject({ target: "hold", outcome: "error" })
    }))

  it.live("unknown tools, denied calls and invalid arguments wait for their entries too", () =>
    Effect.gen(function*() {
      const { router, sql } = yield* openRouter(freshDir())
      const reader = { ...caller, permissions: ["read"] }
      expect((yield* Effect.flip(router.call(caller, "no_such_tool", {})))._tag).toBe("UnknownTool")
      expect((yield* Effect.flip(router.call(reader, "mark", { id: "x" })))._tag).toBe("PermissionDenied")
      expect((yield* Effect.flip(router.call(caller, "mark", { id: 7 })))._tag).toBe("InvalidArguments")
      expect((yield* rows(sql)).map((r) => [r.target, r.outcome])).toEqual([["no_such_tool", "error"], ["mark", "denied"], ["mark", "error"]])
    }))

  it.live("arguments nested 999 levels reach the tool and are audited with the digest of their JSON", () =>
    Effect.gen(function*() {
      const { router, sql } = yield* openRouter(freshDir())
      const args = { id: "deep", data: nested(997) }
      const output = yield* router.call(caller, "mark", args)
      expect(output.isError).not.toBe(true)
      const [row] = yield* rows(sql)
      expect(JSON.parse(row!.details)).toMatchObject({ argumentNames: ["id", "data"], argumentsDigest: digestOf(args) })
    }))

  it.live("the audit writer on its own takes 4,388 and 1,000,000 levels of arguments", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* openRouter(freshDir())
      for (const depth of [4388, 1_000_000]) {
        const event: AuditEvent = { actor: "key_test", action: "tool.call", target: "api_call", outcome: "ok", details: summariseArguments(nested(depth)) }
        expect(yield* log.audited(Effect.succeed(depth), () => event)).toBe(depth)
      }
      const written = yield* rows(sql)
      expect(written).toHaveLength(2)
      expect(written.every((r) => /^[0-9a-f]{16}$/.test(JSON.parse(r.details).argumentsDigest))).toBe(true)
      // an entry builder that throws still leaves an entry, and the call's own outcome
      expect(yield* log.audited(Effect.succeed("kept"), () => { throw new RangeError("Maximum call stack size exceeded") })).toBe("kept")
      expect((yield* rows(sql))[2]).toMatchObject({ outcome: "error" })
    }))
})

describe("a failing audit store", () => {
  it.live("refuses calls (none runs unaudited), is unready with the reason, and recovers by itself", () =>
    Effect.gen(function*() {
      ran.length = 0
      const { router, log, sql, readiness } = yield* openRouter(freshDir())
      yield* router.call(caller, "mark", { id: "before" })
      expect(yield* readiness.problems).toEqual([])

      yield* breakInserts(sql)
      // this call ran, but its entry could not be written: its caller gets the audit error, not the result
      const first = yield* Effect.flip(router.call(caller, "mark", { id: "ran-unacknowledged" }))
      expect(first._tag).toBe("AuditUnavailable")
      expect(first.message).toMatch(/^Audit store unavailable: the disk holding the database is full\. Tool calls are refused/)
      expect(routerErrorToJsonRpc(first)).toMatchObject({ code: -32050, data: { reason: "the disk holding the database is full" } })
      expect(ran).toEqual(["before", "ran-unacknowledged"])

      // while it fails, calls are refused before they run, with the same error
      for (const id of ["refused-1", "refused-2"]) {
        const refused = yield* Effect.flip(router.call(caller, "mark", { id }))
        expect(refused._tag).toBe("AuditUnavailable")
        expect(refused.message).toBe(first.message)
      }
      expect((yield* Effect.flip(router.call(caller, "no_such_tool", {})))._tag).toBe("AuditUnavailable")
      expect(ran).toEqual(["before", "ran-unacknowledged"])
      expect(yield* readiness.problems).toEqual([
        "audit: entries cannot be written (the disk holding the database is full); tool calls are refused until they can"
      ])

      yield* heal(sql)
      // the probe writes the kept entry, then calls are served again
      yield* waitUntil(readiness.problems, (problems) => problems.length === 0)
      yield* router.call(caller, "mark", { id: "after" })
      expect(ran).toEqual(["before", "ran-unacknowledged", "after"])
      const written = yield* rows(sql)
      expect(written.map((r) => JSON.parse(r.details).argumentsDigest)).toEqual(
        [{ id: "before" }, { id: "ran-unacknowledged" }, { id: "after" }].map(digestOf)
      )
      expect(JSON.parse(written[1]!.details).auditDelayed).toBe(true)
      expect(JSON.parse(written[2]!.details).auditDelayed).toBeUndefined()
      expect(yield* log.verify).toEqual({ ok: true, checked: 3 })
    }))

  it.live("a database locked by another process: refused with that reason, served again once the lock goes", () =>
    Effect.gen(function*() {
      ran.length = 0
      const dataDir = freshDir()
      const { router, log, readiness } = yield* openRouter(dataDir)
      yield* router.call(caller, "mark", { id: "before" })
      const other = new DatabaseSync(databaseFile(dataDir))
      try {
        other.exec("BEGIN EXCLUSIVE")
        other.prepare("INSERT INTO config_versions (at, actor, changes, config) VALUES ('x', 'x', '{}', '{}')").run()
        const error = yield* Effect.flip(router.call(caller, "mark", { id: "while-locked" }))
        expect(error.message).toContain("the database is locked by another process")
        expect((yield* readiness.problems).join()).toContain("locked")
        other.exec("COMMIT")
      } finally {
        if (other.isTransaction) other.exec("ROLLBACK")
        other.close()
      }
      yield* waitUntil(readiness.problems, (problems) => problems.length === 0)
      yield* router.call(caller, "mark", { id: "after" })
      expect(yield* log.verify).toEqual({ ok: true, checked: 3 })
    }))

  it.live("a full queue refuses the call before it runs (the bound holds calls running and waiting)", () =>
    Effect.gen(function*() {
      ran.length = 0
      const { router } = yield* openRouter(freshDir(), { maxPending: 3 })
      gate = yield* Deferred.make<void>()
      const held = yield* Effect.forkChild(Effect.forEach(["h1", "h2", "h3"], (id) => router.call(caller, "hold", { id }), { concurrency: "unbounded" }))
      yield* waitUntil(Effect.sync(() => ran.length), (n) => n === 3)
      const refused = yield* Effect.flip(router.call(caller, "mark", { id: "over" }))
      expect(refused._tag).toBe("AuditUnavailable")
      expect(refused.message).toContain("the audit queue is full (3 calls waiting for their entries)")
      expect(ran).not.toContain("over")
      yield* Deferred.succeed(gate, undefined)
      gate = undefined
      expect(Exit.isSuccess(yield* Fiber.await(held))).toBe(true)
      yield* router.call(caller, "mark", { id: "after" })
      expect(ran).toContain("after")
    }))

  it.live("two routers on one file (serve and stdio) continue one chain: a conflict reloads the chain's end", () =>
    Effect.gen(function*() {
      const dataDir = freshDir()
      const one = yield* openRouter(dataDir)
      const two = yield* openRouter(dataDir)
      for (let n = 0; n < 5; n++) {
        yield* one.router.call(caller, "mark", { id: `one-${n}` })
        yield* two.router.call(caller, "mark", { id: `two-${n}` })
      }
      expect(one.log.problem()).toBeUndefined()
      expect(two.log.problem()).toBeUndefined()
      expect((yield* rows(one.sql)).map((r) => r.seq)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1))
      expect(yield* one.log.verify).toEqual({ ok: true, checked: 10 })
    }))

  it.live("what fails at shutdown is logged, and what was written stays verifiable", () =>
    Effect.gen(function*() {
      const dataDir = freshDir()
      yield* Effect.scoped(Effect.gen(function*() {
        const { log, sql } = yield* openRouter(dataDir)
        log.record({ actor: "admin", action: "key.create", target: "k1", outcome: "ok" })
        yield* log.flush
        yield* breakInserts(sql)
        log.record({ actor: "admin", action: "key.create", target: "k2", outcome: "ok" })
      }))
      const { log, sql } = yield* openRouter(dataDir)
      yield* heal(sql)
      expect((yield* rows(sql)).map((r) => r.target)).toEqual(["k1"])
      expect(yield* log.verify).toEqual({ ok: true, checked: 1 })
    }))
})

// ---------------------------------------------------------------------------------------------------

describe("verify with sequence numbers", () => {
  const event = (n: number) => ({ actor: `key_${n}`, action: "tool.call", target: `tool_${n}`, outcome: "ok" as const, details: { n } })
  const filled = (count: number) =>
    Effect.gen(function*() {
      const opened = yield* openRouter(freshDir())
      for (let n = 1; n <= count; n++) opened.log.record(event(n))
      yield* opened.log.flush
      return opened
    })

  it.live("finds a deleted middle entry, also when the ids after it are renumbered to close the gap", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* filled(6)
      expect(yield* log.verify).toEqual({ ok: true, checked: 6 })
      yield* sql`DELETE FROM audit_log WHERE id = 3`
      expect(yield* log.verify).toEqual({ ok: false, checked: 2, problem: "entry 3 is missing" })
      yield* sql`UPDATE audit_log SET id = id - 1 WHERE id > 3`
      expect(yield* log.verify).toEqual({ ok: false, checked: 2, problem: "entry 3 is missing" })
    }))

  it.live("finds an edited entry and an edited sequence number", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* filled(4)
      yield* sql`UPDATE audit_log SET outcome = 'denied' WHERE id = 2`
      expect(yield* log.verify).toEqual({ ok: false, checked: 1, problem: "entry 2 was changed after it was written" })
      yield* sql`UPDATE audit_log SET outcome = 'ok' WHERE id = 2`
      expect((yield* log.verify).ok).toBe(true)
      yield* sql`UPDATE audit_log SET seq = 9 WHERE id = 4`
      expect(yield* log.verify).toMatchObject({ ok: false, problem: "entry 4 is missing" })
      yield* sql`UPDATE audit_log SET seq = NULL WHERE id = 4`
      expect(yield* log.verify).toMatchObject({ ok: false, problem: "entry 4 was changed after it was written" })
    }))

  it.live("continues the chain of a database written before entries were numbered, and verifies both parts", () =>
    Effect.gen(function*() {
      const dataDir = freshDir()
      // the schema as it was before migration 0004, with entries hashed the old way
      const { "0004_audit_seq": _added, ...before } = migrations
      const legacyHash = (prev: string, row: ReadonlyArray<unknown>) => createHash("sha256").update(prev).update(JSON.stringify(row)).digest("hex")
      yield* Effect.scoped(Layer.build(
        Layer.effectDiscard(Migrator.make({})({ loader: Migrator.fromRecord(before) })).pipe(
          Layer.provide(layerNodeSqlite({ filename: path.join(dataDir, "mcp-router.db") }))
        )
      ))
      const db = new DatabaseSync(path.join(dataDir, "mcp-router.db"))
      let prev = "0".repeat(64)
      for (let n = 1; n <= 3; n++) {
        const row = [`2025-01-0${n}T00:00:00.000Z`, "key_old", "tool.call", `old_${n}`, "ok", null, "{}"]
        const hash = legacyHash(prev, row)
        db.prepare("INSERT INTO audit_log (at, actor, action, target, outcome, duration_ms, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
          .run(...(row as Array<string | null>), prev, hash)
        prev = hash
      }
      db.close()

      const { log, sql } = yield* openRouter(dataDir)
      for (let n = 4; n <= 5; n++) log.record(event(n))
      yield* log.flush
      const written = yield* rows(sql)
      expect(written.map((r) => [r.id, r.seq])).toEqual([[1, null], [2, null], [3, null], [4, 4], [5, 5]])
      expect(yield* log.verify).toEqual({ ok: true, checked: 5 })
      yield* sql`UPDATE audit_log SET target = 'x' WHERE id = 2`
      expect(yield* log.verify).toEqual({ ok: false, checked: 1, problem: "entry 2 was changed after it was written" })
      yield* sql`UPDATE audit_log SET target = 'old_2' WHERE id = 2`
      yield* sql`DELETE FROM audit_log WHERE id = 2`
      expect(yield* log.verify).toEqual({ ok: false, checked: 1, problem: "entry 2 is missing" })
    }))
})

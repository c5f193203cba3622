/** AuditLog on its own: record, flush, query, verify, prune with its anchor, and the queue written on close. */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { SqlClient } from "effect/sql"
import * as fs from "node:fs"
import { afterAll } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { AuditLog } from "../../src/security/AuditLog.ts"
import { DatabaseLayer } from "../../src/storage/Database.ts"
import { makeTempDir } from "./support.ts"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
})
const freshDir = () => {
  const dir = makeTempDir("mcp-auditlog-")
  dirs.push(dir)
  return dir
}

/** AuditLog and its SqlClient on a database in `dataDir`, built in the current scope. */
const open = (dataDir: string) =>
  Effect.map(
    Layer.build(AuditLog.layer.pipe(Layer.provideMerge(DatabaseLayer), Layer.provide(AppConfig.layerFromInput({ storage: { dataDir } })))),
    (context) => ({ log: Context.get(context, AuditLog), sql: Context.get(context, SqlClient.SqlClient) })
  )

const event = (n: number) => ({ actor: `key_${n}`, action: "tool.call", target: `tool_${n}`, outcome: "ok" as const, details: { n } })
const all = { limit: 1000, offset: 0 }
/** Lets the clock move past the `at` of what was just written, so prune(0) sees it as older than now. */
const tick = Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))

describe("AuditLog", () => {
  it.live("records, flushes and queries entries newest first", () =>
    Effect.gen(function*() {
      const { log } = yield* open(freshDir())
      log.record({ actor: "key_a", action: "tool.call", target: "read_file", outcome: "ok", durationMs: 12.3456, details: { argumentNames: ["path"] } })
      log.record({ actor: "key_b", action: "key.create", target: "key_c", outcome: "ok" })
      log.record({ actor: "key_a", action: "tool.call", target: "write_file", outcome: "denied" })
      yield* log.flush
      const { entries, total } = yield* log.query(all)
      expect(total).toBe(3)
      expect(entries.map((e) => e.id)).toEqual([3, 2, 1])
      expect(entries[2]).toEqual({
        id: 1,
        at: expect.any(String),
        actor: "key_a",
        action: "tool.call",
        target: "read_file",
        outcome: "ok",
        durationMs: 12.35,
        details: { argumentNames: ["path"] },
        hash: expect.stringMatching(/^[0-9a-f]{64}$/)
      })
      expect(entries[1]!.details).toEqual({})
      expect(entries[0]!.durationMs).toBeUndefined()
      const byActor = yield* log.query({ ...all, actor: "key_a", outcome: "denied" })
      expect(byActor.entries.map((e) => e.target)).toEqual(["write_file"])
      expect(yield* log.verify).toEqual({ ok: true, checked: 3 })
    }))

  it.live("verify finds a changed, a reordered and a missing entry", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* open(freshDir())
      for (let n = 1; n <= 4; n++) log.record(event(n))
      yield* log.flush
      expect(yield* log.verify).toEqual({ ok: true, checked: 4 })
      yield* sql`UPDATE audit_log SET details = '{"n":99}' WHERE id = 2`
      expect(yield* log.verify).toEqual({ ok: false, checked: 1, problem: "entry 2 was changed after it was written" })
      yield* sql`UPDATE audit_log SET details = '{"n":2}' WHERE id = 2`
      expect((yield* log.verify).ok).toBe(true)
      // an entry whose link to the one before was rewritten
      const first = (yield* sql<{ hash: string }>`SELECT hash FROM audit_log WHERE id = 1`)[0]!
      yield* sql`UPDATE audit_log SET prev_hash = ${"f".repeat(64)} WHERE id = 2`
      expect(yield* log.verify).toEqual({ ok: false, checked: 1, problem: "entry 2 does not follow entry 1" })
      yield* sql`UPDATE audit_log SET prev_hash = ${first.hash} WHERE id = 2`
      yield* sql`DELETE FROM audit_log WHERE id = 3`
      expect(yield* log.verify).toMatchObject({ ok: false, problem: "entry 3 is missing" })
    }))

  it.live("prune(0) removes everything written before now; the rest of the chain and what follows verify", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* open(freshDir())
      for (let n = 1; n <= 3; n++) log.record(event(n))
      yield* log.flush
      const lastHash = (yield* log.query({ limit: 1, offset: 0 })).entries[0]!.hash
      yield* tick
      expect(yield* log.prune(0)).toBe(3)
      expect((yield* log.query(all)).total).toBe(0)
      expect(yield* log.verify).toEqual({ ok: true, checked: 0 })
      expect(yield* log.prune(0)).toBe(0)

      for (let n = 4; n <= 5; n++) log.record(event(n))
      yield* log.flush
      const rows = yield* sql<{ id: number; prev_hash: string }>`SELECT id, prev_hash FROM audit_log ORDER BY id`
      expect(rows.map((r) => r.id)).toEqual([4, 5])
      expect(rows[0]!.prev_hash).toBe(lastHash)
      expect(yield* log.verify).toEqual({ ok: true, checked: 2 })

      // tampering after pruning is still found, and so is a forged anchor
      yield* sql`UPDATE audit_log SET target = 'x' WHERE id = 5`
      expect((yield* log.verify).problem).toBe("entry 5 was changed after it was written")
      yield* sql`UPDATE audit_log SET target = 'tool_5' WHERE id = 5`
      expect((yield* log.verify).ok).toBe(true)
      yield* sql`UPDATE audit_anchor SET last_hash = ${"0".repeat(64)}`
      expect((yield* log.verify).problem).toBe("entry 4 does not follow entry 3")
    }))

  it.live("prune(days) removes only entries older than the cutoff, and everything before them", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* open(freshDir())
      for (let n = 1; n <= 5; n++) log.record(event(n))
      yield* log.flush
      const old = new Date(Date.now() - 10 * 86_400_000).toISOString()
      // entries 1 and 2 backdated: their hashes no longer match, but they are what retention removes
      yield* sql`UPDATE audit_log SET at = ${old} WHERE id <= 2`
      expect(yield* log.prune(30)).toBe(0)
      expect(yield* log.prune(5)).toBe(2)
      const left = yield* log.query(all)
      expect(left.entries.map((e) => e.id)).toEqual([5, 4, 3])
      expect(yield* log.verify).toEqual({ ok: true, checked: 3 })
      const anchor = yield* sql<{ pruned_through: number }>`SELECT pruned_through FROM audit_anchor WHERE id = 1`
      expect(anchor[0]!.pruned_through).toBe(2)
    }))

  it.live("verify's count on failure is the number of entries checked, also after pruning", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* open(freshDir())
      for (let n = 1; n <= 3; n++) log.record(event(n))
      yield* log.flush
      yield* tick
      expect(yield* log.prune(0)).toBe(3)
      for (let n = 4; n <= 5; n++) log.record(event(n))
      yield* log.flush
      yield* sql`UPDATE audit_log SET target = 'x' WHERE id = 5`
      expect(yield* log.verify).toEqual({ ok: false, checked: 1, problem: "entry 5 was changed after it was written" })
    }))

  it.live("writes what is still queued when it closes, and continues the chain after a restart", () =>
    Effect.gen(function*() {
      const dataDir = freshDir()
      yield* Effect.scoped(Effect.gen(function*() {
        const { log } = yield* open(dataDir)
        for (let n = 1; n <= 3; n++) log.record(event(n))
        // no flush: closing the scope must still write them
      }))
      const { log } = yield* open(dataDir)
      expect((yield* log.query(all)).total).toBe(3)
      log.record(event(4))
      yield* log.flush
      expect((yield* log.query(all)).entries.map((e) => e.target)).toEqual(["tool_4", "tool_3", "tool_2", "tool_1"])
      expect(yield* log.verify).toEqual({ ok: true, checked: 4 })
    }))
})

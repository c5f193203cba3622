/**
 * The stores on PostgreSQL in this process, several at once on one database as replicas would be:
 * migrations (run twice, and by two routers starting together), the audit chain written by two
 * writers at once with small batches (one chain, verified), query and prune on PostgreSQL, one admin
 * key stored by two routers at once, and configuration versions numbered by the database.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import { afterAll, beforeAll } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { loadConfig } from "../../src/config/load.ts"
import { redactConfig, storableConfig } from "../../src/config/redactConfig.ts"
import { AuditLog } from "../../src/security/AuditLog.ts"
import { KeyStore } from "../../src/security/KeyStore.ts"
import { ConfigVersions } from "../../src/storage/ConfigVersions.ts"
import { DatabaseLayer, StorageInfo } from "../../src/storage/Database.ts"
import { describePostgresUrl } from "../../src/storage/Postgres.ts"
import { postgresMigrations } from "../../src/storage/postgresMigrations.ts"
import { createDatabase, makeTempDir, postgresUrl, removeDir, skipMessage } from "./support.ts"

const folders: Array<string> = []
afterAll(() => {
  for (const folder of folders) removeDir(folder)
})

/** One router's stores on `url`, built in the current scope (a pool of its own, as another process would have). */
const open = (url: string, audit: { readonly maxBatch?: number } = {}) => {
  const workingDir = makeTempDir("mcp-router-pg-store-")
  folders.push(workingDir)
  const config = AppConfig.layerFromInput({ storage: { url }, tools: { workingDir } }, workingDir)
  return Effect.map(
    Layer.build(
      Layer.mergeAll(AuditLog.layerWith(audit), KeyStore.layer, ConfigVersions.layer).pipe(Layer.provideMerge(DatabaseLayer), Layer.provide(config))
    ),
    (context) => ({
      log: Context.get(context, AuditLog),
      keys: Context.get(context, KeyStore),
      versions: Context.get(context, ConfigVersions),
      sql: Context.get(context, SqlClient.SqlClient),
      info: Context.get(context, StorageInfo)
    })
  )
}

const event = (writer: string, n: number) => ({ actor: writer, action: "tool.call", target: `tool_${n}`, outcome: "ok" as const, durationMs: n / 7, details: { n } })

describe.skipIf(postgresUrl === undefined)(`the stores on PostgreSQL ${postgresUrl === undefined ? `(${skipMessage})` : ""}`, () => {
  let database: Awaited<ReturnType<typeof createDatabase>>
  beforeAll(async () => {
    database = await createDatabase("router_stores")
  })
  afterAll(() => database?.drop())

  it.live("are migrated once when two routers start together, and a migration run again is a no-op", () =>
    Effect.gen(function*() {
      const [first, second] = yield* Effect.all([open(database.url), open(database.url)], { concurrency: 2 })
      expect(first.info).toMatchObject({ kind: "PostgreSQL", shared: true, label: describePostgresUrl(database.url) })
      const applied = yield* first.sql<{ readonly migration_id: number }>`SELECT migration_id FROM effect_sql_migrations`
      expect(applied.map((row) => row.migration_id)).toEqual([1])
      // the migrator run once more applies nothing and changes nothing
      const again = yield* Migrator.make({})({ loader: Migrator.fromRecord(postgresMigrations) }).pipe(Effect.provideService(SqlClient.SqlClient, second.sql))
      expect(again).toEqual([])
      const tables = yield* first.sql<{ readonly name: string }>`
        SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`
      expect(tables.map((row) => row.name)).toEqual(["api_keys", "audit_anchor", "audit_log", "config_versions", "effect_sql_migrations"])
      // and a third router starting on the migrated database works at once
      const third = yield* open(database.url)
      expect(yield* third.keys.count).toBe(0)
    }).pipe(Effect.scoped))

  it.live("two writers appending at once, in many small batches, make one chain that verifies", () =>
    Effect.gen(function*() {
      const a = yield* open(database.url, { maxBatch: 8 })
      const b = yield* open(database.url, { maxBatch: 8 })
      const before = (yield* a.log.query({ limit: 1, offset: 0 })).total
      const perWriter = 600
      // awaited entries, as tool calls make them: each waits for its own batch's commit
      yield* Effect.all(
        Array.from({ length: perWriter }, (_, n) => [
          a.log.audited(Effect.void, () => event("writer_a", n)),
          b.log.audited(Effect.void, () => event("writer_b", n))
        ]).flat(),
        { concurrency: 64, discard: true }
      )
      const rows = yield* a.sql<{ readonly id: number; readonly seq: number; readonly actor: string }>`SELECT id, seq, actor FROM audit_log ORDER BY id`
      expect(rows).toHaveLength(before + 2 * perWriter)
      expect(rows.map((row) => row.seq)).toEqual(rows.map((_, i) => i + 1))
      expect(rows.map((row) => row.id)).toEqual(rows.map((row) => row.seq))
      // the writers' batches interleave: the chain runs through both
      const switches = rows.filter((row, i) => i > 0 && row.actor !== rows[i - 1]!.actor).length
      expect(switches).toBeGreaterThan(10)
      expect(yield* b.log.verify).toEqual({ ok: true, checked: before + 2 * perWriter })
    }).pipe(Effect.scoped))

  it.live("query, verify and prune work on PostgreSQL as on SQLite, durations and details unchanged", () =>
    Effect.gen(function*() {
      const { log, sql } = yield* open(database.url)
      log.record({ actor: "key_q", action: "tool.call", target: "read_file", outcome: "denied", durationMs: 12.3456, details: { argumentNames: ["path"] } })
      yield* log.flush
      const { entries, total } = yield* log.query({ actor: "key_q", outcome: "denied", limit: 10, offset: 0 })
      expect(total).toBe(1)
      expect(entries[0]).toMatchObject({ actor: "key_q", target: "read_file", durationMs: 12.35, details: { argumentNames: ["path"] } })
      expect(typeof entries[0]!.id).toBe("number")
      const since = yield* log.query({ since: entries[0]!.at, limit: 10, offset: 0 })
      expect(since.entries.map((e) => e.id)).toContain(entries[0]!.id)

      yield* Effect.promise(() => new Promise((resolve) => setTimeout(resolve, 5)))
      const all = (yield* log.query({ limit: 1, offset: 0 })).total
      expect(yield* log.prune(0)).toBe(all)
      expect((yield* log.query({ limit: 1, offset: 0 })).total).toBe(0)
      // the chain continues from the anchor retention left
      log.record({ actor: "key_q", action: "tool.call", target: "after_prune", outcome: "ok" })
      yield* log.flush
      const [row] = yield* sql<{ readonly id: number }>`SELECT id FROM audit_log`
      expect(row!.id).toBe(all + 1)
      expect(yield* log.verify).toEqual({ ok: true, checked: 1 })
    }).pipe(Effect.scoped))

  it.live("one admin key stored by two routers at once is one key", () =>
    Effect.gen(function*() {
      const a = yield* open(database.url)
      const b = yield* open(database.url)
      const key = "shared-admin-key-0123456789abcdef"
      const [fromA, fromB] = yield* Effect.all([
        a.keys.create({ name: "admin (MCP_ADMIN_KEY)", permissions: ["*"], key }),
        b.keys.create({ name: "admin (MCP_ADMIN_KEY)", permissions: ["*"], key })
      ], { concurrency: 2 })
      expect(fromA.record.id).toBe(fromB.record.id)
      expect((yield* a.keys.list).filter((k) => k.name === "admin (MCP_ADMIN_KEY)")).toHaveLength(1)
      expect((yield* b.keys.lookup(key))?.id).toBe(fromA.record.id)
    }).pipe(Effect.scoped))

  it.live("configuration versions recorded by two routers at once are numbered by the database, each its own", () =>
    Effect.gen(function*() {
      const a = yield* open(database.url)
      const b = yield* open(database.url)
      const numbers = yield* Effect.all(
        Array.from({ length: 20 }, (_, n) => (n % 2 === 0 ? a : b).versions.record(`writer_${n % 2}`, { n }, { n })),
        { concurrency: 8 }
      )
      expect(new Set(numbers).size).toBe(20)
      for (const [n, version] of numbers.entries()) expect(yield* a.versions.get(version)).toEqual({ n })
      expect((yield* b.versions.newest)?.version).toBe(Math.max(...numbers))
    }).pipe(Effect.scoped))
})

describe("storage.url", () => {
  const load = (value: string) => {
    const cwd = makeTempDir("mcp-router-pg-config-")
    folders.push(cwd)
    return loadConfig({ env: { MCP_STORAGE_URL: value, MCP_WORKING_DIR: cwd }, cwd })
  }

  it.live("is read from MCP_STORAGE_URL; anything but a postgres:// URL with a host and a database is refused naming the setting", () =>
    Effect.gen(function*() {
      expect((yield* load("postgres://router:pw@db.internal:5432/mcp_router")).storage.url).toBe("postgres://router:pw@db.internal:5432/mcp_router")
      expect((yield* load("postgresql://db.internal/mcp")).storage.url).toBe("postgresql://db.internal/mcp")
      for (const wrong of ["mysql://db.internal/mcp", "postgres://db.internal", "db.internal:5432/mcp"]) {
        const error = yield* Effect.flip(load(wrong))
        expect(error.message).toContain("storage.url")
        expect(error.message).toContain("Expected a PostgreSQL URL")
      }
    }))

  it("is shown without its password and never stored in the configuration history", () => {
    const config = { storage: { dataDir: "data", auditQueueSize: 4096, url: "postgres://router:s3cret@db.internal:5432/mcp" } }
    expect(redactConfig(config).storage?.url).toBe("postgres://router:[REDACTED]@db.internal:5432/mcp")
    expect(storableConfig(config).storage).toEqual({ dataDir: "data", auditQueueSize: 4096 })
    expect(describePostgresUrl("postgres://router:s3cret@db.internal:5432/mcp")).toBe("PostgreSQL at db.internal:5432/mcp")
  })
})

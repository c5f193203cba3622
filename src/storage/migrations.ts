/** Schema migrations, applied in order of their numeric prefix; never edit one that has shipped. */
import * as Effect from "effect/Effect"
import * as SqlClient from "effect/sql/SqlClient"

export const migrations = {
  "0001_api_keys": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      prefix TEXT NOT NULL,
      hash TEXT NOT NULL UNIQUE,
      permissions TEXT NOT NULL,
      created_at TEXT NOT NULL,
      last_used_at TEXT,
      expires_at TEXT,
      revoked_at TEXT,
      rate_per_minute INTEGER,
      rate_per_hour INTEGER
    )`),
  "0002_audit_log": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* Effect.all([
      sql`CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        outcome TEXT NOT NULL,
        duration_ms REAL,
        details TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      )`,
      sql`CREATE INDEX audit_log_at ON audit_log (at)`,
      sql`CREATE INDEX audit_log_actor ON audit_log (actor)`,
      // what retention removed: verification starts from here instead of from nothing
      sql`CREATE TABLE audit_anchor (id INTEGER PRIMARY KEY CHECK (id = 1), pruned_through INTEGER NOT NULL, last_hash TEXT NOT NULL)`
    ])
  }),
  "0003_config_versions": SqlClient.SqlClient.use((sql) =>
    sql`CREATE TABLE config_versions (
      version INTEGER PRIMARY KEY AUTOINCREMENT,
      at TEXT NOT NULL,
      actor TEXT NOT NULL,
      changes TEXT NOT NULL,
      config TEXT NOT NULL
    )`),
  /**
   * Audit entries carry their sequence number inside the hashed content, so `audit verify` tells a
   * missing entry from an edited one even when ids are renumbered. Entries written before this
   * migration keep seq NULL and their original hash, and are verified as they always were (ids
   * consecutive, chain of hashes); every later entry has seq = id.
   */
  "0004_audit_seq": Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`ALTER TABLE audit_log ADD COLUMN seq INTEGER`
    yield* sql`CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq)`
  })
}

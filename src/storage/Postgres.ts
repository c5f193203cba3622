/**
 * The shared store: keys, the audit trail and configuration versions in PostgreSQL (`storage.url`),
 * through effect's SqlClient on @effect/sql-pg, migrated on start. Loaded by Database.ts only when
 * storage.url is set, so a router on its embedded SQLite file never loads this module.
 *
 * Several routers (replicas) may use one database at once: the stores are written so that they can
 * (the audit chain is appended under a transaction-scoped advisory lock, see security/AuditLog.ts;
 * configuration changes are announced with NOTIFY, see storage/ConfigVersions.ts). Migrations are
 * serialised by the migrator's table lock, so replicas starting together migrate once.
 */
import { PgClient, PgTypes } from "@effect/sql-pg"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Queue from "effect/Queue"
import * as Redacted from "effect/Redacted"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"
import { describeStorageError, StorageInfo } from "./Database.ts"
import { postgresMigrations } from "./postgresMigrations.ts"

/** storage.url cannot be used: named with the setting that fixes it; never the password. */
export class PostgresUnavailable extends Schema.TaggedError<PostgresUnavailable>()("PostgresUnavailable", {
  store: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `storage.url: ${this.store} cannot be used: ${this.reason}. Check storage.url (MCP_STORAGE_URL) and that the server accepts connections from this machine.`
  }
}

/** "PostgreSQL at host:port/database": what messages name; the URL's user and password never. */
export const describePostgresUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    const database = decodeURIComponent(parsed.pathname.replace(/^\//, "")) || "(default database)"
    return `PostgreSQL at ${parsed.hostname}:${parsed.port || "5432"}/${database}`
  } catch {
    return "PostgreSQL"
  }
}

/**
 * Every bigint column here (audit ids and sequence numbers, counts) stays far below 2^53: decoded as a
 * number, as SQLite gives them, so the stores compare and hash the same values on both. A value past
 * 2^53 would stay a bigint rather than lose precision.
 */
const int8AsNumber = (): PgTypes.Registry => {
  const registry = PgTypes.makeRegistry()
  const read = (bytes: Uint8Array, offset: number, size: number) => {
    if (size !== 8) return Result.fail(new PgTypes.CodecError({ message: `Expected 8 bytes for int8, got ${size}` }))
    const value = new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigInt64(0)
    return Result.succeed(value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value)
  }
  registry.register<number | bigint>(PgTypes.OID.int8, {
    read,
    decode: (bytes) => read(bytes, 0, bytes.length),
    encode: (value) => PgTypes.encode(typeof value === "number" ? BigInt(value) : value, PgTypes.OID.int8) as Result.Result<Uint8Array, PgTypes.CodecError>
  })
  return registry
}

/** The URL's own application_name wins; otherwise the server's activity view shows the router. */
const applicationName = (url: string) => {
  try {
    return new URL(url).searchParams.has("application_name") ? undefined : "mcp-router-pro"
  } catch {
    return undefined
  }
}

/** SqlClient and PgClient on `url`, migrated; StorageInfo says what it is and how to listen for notices. */
export const layerPostgres = (url: string) => {
  const store = describePostgresUrl(url)
  const name = applicationName(url)
  const client = PgClient.layer({
    url: Redacted.make(url),
    types: int8AsNumber(),
    connectTimeout: "5 seconds",
    // a dead peer is noticed by TCP within about a minute even when nothing is sent
    keepAlive: "30 seconds",
    ...(name === undefined ? {} : { applicationName: name })
  })
  const unavailable = (error: unknown) => new PostgresUnavailable({ store, reason: describeStorageError(error) })
  const migrations = Layer.effectDiscard(
    Migrator.make({})({ loader: Migrator.fromRecord(postgresMigrations) }).pipe(
      Effect.mapError(unavailable),
      Effect.tap((applied) => (applied.length > 0 ? Effect.logInfo(`${store}: applied migrations ${applied.map(([id, n]) => `${id}_${n}`).join(", ")}`) : Effect.void))
    )
  )
  // answers at once, or start-up stops with one line naming the store
  const reachable = Layer.effectDiscard(
    SqlClient.SqlClient.use((sql) => sql`SELECT 1`).pipe(Effect.mapError(unavailable))
  )
  const info = Layer.effect(
    StorageInfo,
    Effect.map(Effect.service(PgClient.PgClient), (pg) => ({
      label: store,
      kind: "PostgreSQL",
      shared: true,
      listen: (channel: string) => Effect.map(pg.listen(channel), (queue) => Effect.map(Queue.take(queue), (notice) => notice.payload))
    }))
  )
  const sql = Layer.effect(SqlClient.SqlClient, Effect.service(SqlClient.SqlClient))
  return Layer.mergeAll(sql, info, migrations.pipe(Layer.provide(reachable))).pipe(Layer.provide(client))
}

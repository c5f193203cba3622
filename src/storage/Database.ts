/**
 * The database of API keys, the audit trail and configuration versions: PostgreSQL when `storage.url`
 * is set (storage/Postgres.ts, loaded only then), otherwise the embedded database.
 *
 * The embedded database: one SQLite file under `storage.dataDir` for API keys, the audit trail and
 * configuration versions, migrated on start. Writes are synchronous to disk (WAL, synchronous=FULL):
 * what was acknowledged survives a crash, a power cut included. FULL costs one fsync of the WAL per
 * commit (about 1.3 ms on the CI disk); the audit trail's group commit (security/AuditLog.ts) pays it
 * once per batch of tool calls, so it is affordable. NORMAL would survive a killed process but could
 * lose the last commits, acknowledged tool calls among them, on a power cut.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import * as Migrator from "effect/sql/Migrator"
import * as SqlClient from "effect/sql/SqlClient"
import type * as SqlError from "effect/sql/SqlError"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import { migrations } from "./migrations.ts"
import { layerNodeSqlite } from "./NodeSqliteClient.ts"
import type { PostgresUnavailable } from "./Postgres.ts"

export const databaseFile = (dataDir: string) => path.join(dataDir, "mcp-router.db")

/**
 * What the stores are kept in. The stores' SQL is one for both databases (dialect differences are
 * `sql.onDialectOrElse` in small functions beside the statements); this says what to name in messages
 * and whether other routers share the store.
 */
export interface StorageInfoService {
  /** Named in errors and logs: "the SQLite database", "PostgreSQL at db.internal:5432/mcp"; never a password. */
  readonly label: string
  /** Named in public readiness reasons: "SQLite", "PostgreSQL". */
  readonly kind: string
  /** Other routers may use the same store at the same time. */
  readonly shared: boolean
  /**
   * Notices sent on `channel` by any router on the store (PostgreSQL LISTEN): the effect returned takes
   * the next one's payload and fails once the connection is lost (listen again then). Undefined when
   * the store is not shared.
   */
  readonly listen: ((channel: string) => Effect.Effect<Effect.Effect<string, unknown>, unknown, Scope.Scope>) | undefined
}

export class StorageInfo extends Context.Reference<StorageInfoService>("mcp-router/storage/StorageInfo", {
  defaultValue: () => ({ label: "the SQLite database", kind: "SQLite", shared: false, listen: undefined })
}) {}

/** The data dir cannot hold the database: named with the setting that fixes it. */
export class StorageUnavailable extends Schema.TaggedError<StorageUnavailable>()("StorageUnavailable", {
  dataDir: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `storage.dataDir ${this.dataDir} cannot hold the database: ${this.reason}. Point storage.dataDir (MCP_DATA_DIR) at a folder the router can create and write.`
  }
}

/** Creates the data dir and checks that it can be written, before SQLite says only "unable to open database file". */
const prepareDataDir = (dataDir: string) =>
  Effect.try({
    try: () => {
      fs.mkdirSync(dataDir, { recursive: true })
      fs.accessSync(dataDir, fs.constants.W_OK | fs.constants.X_OK)
    },
    catch: (error) => new StorageUnavailable({ dataDir, reason: (error as NodeJS.ErrnoException).code === "EROFS" ? "it is on a read-only file system" : String((error as Error).message) })
  })

const Durable = Layer.effectDiscard(SqlClient.SqlClient.use((sql) => sql`PRAGMA synchronous = FULL`))

const Migrations = Layer.effectDiscard(
  Migrator.make({})({ loader: Migrator.fromRecord(migrations) })
)

/** A failed statement in words: the driver's message and its cause (connect ECONNREFUSED ...), never the URL. */
export const describeStorageError = (error: unknown): string => {
  const e = error as { readonly message?: unknown; readonly reason?: { readonly message?: unknown; readonly cause?: unknown }; readonly cause?: unknown }
  const cause = (e?.reason?.cause ?? e?.cause) as { readonly message?: unknown } | undefined
  const parts = [e?.reason?.message ?? e?.message, cause?.message].filter((part): part is string => typeof part === "string" && part !== "")
  return parts.length === 0 ? String(error) : [...new Set(parts)].join(": ")
}

/** Why the database cannot be used: each names the setting that fixes it. */
export type DatabaseError = StorageUnavailable | PostgresUnavailable | SqlError.SqlError | Migrator.MigrationError

/** SqlClient on the configured database (PostgreSQL with storage.url, else the SQLite file), migrated; StorageInfo with it. */
export const DatabaseLayer: Layer.Layer<SqlClient.SqlClient, DatabaseError, AppConfig> = Layer.unwrap(
  AppConfig.use((config) =>
    Effect.suspend((): Effect.Effect<Layer.Layer<SqlClient.SqlClient, DatabaseError>, StorageUnavailable> => {
      const { dataDir, url } = config.current().storage
      // the PostgreSQL client is loaded only by routers configured for it
      if (url !== undefined) return Effect.map(Effect.promise(() => import("./Postgres.ts")), (postgres) => postgres.layerPostgres(url))
      return Effect.as(
        prepareDataDir(dataDir),
        Layer.mergeAll(Durable, Migrations).pipe(Layer.provideMerge(layerNodeSqlite({ filename: databaseFile(dataDir) })))
      )
    })
  )
)

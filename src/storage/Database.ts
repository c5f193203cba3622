/**
 * The embedded database: one SQLite file under `storage.dataDir` for API keys, the audit trail and
 * configuration versions, migrated on start. Writes are synchronous to disk (WAL, synchronous=FULL):
 * what was acknowledged survives a crash, a power cut included. FULL costs one fsync of the WAL per
 * commit (about 1.3 ms on the CI disk); the audit trail's group commit (security/AuditLog.ts) pays it
 * once per batch of tool calls, so it is affordable. NORMAL would survive a killed process but could
 * lose the last commits, acknowledged tool calls among them, on a power cut.
 */
import { Effect, Layer, Schema } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import { migrations } from "./migrations.ts"
import { layerNodeSqlite } from "./NodeSqliteClient.ts"

export const databaseFile = (dataDir: string) => path.join(dataDir, "mcp-router.db")

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

/** SqlClient on the configured SQLite file, migrated. */
export const DatabaseLayer = Layer.unwrap(
  AppConfig.use((config) =>
    Effect.suspend(() => {
      const { dataDir } = config.current().storage
      return Effect.as(
        prepareDataDir(dataDir),
        Layer.mergeAll(Durable, Migrations).pipe(Layer.provideMerge(layerNodeSqlite({ filename: databaseFile(dataDir) })))
      )
    })
  )
)

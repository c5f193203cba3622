/**
 * The embedded database: one SQLite file under `storage.dataDir` for API keys, the audit trail and
 * configuration versions, migrated on start. Writes are synchronous to disk (WAL, synchronous=FULL):
 * what was acknowledged survives a crash.
 */
import { Effect, Layer } from "effect"
import { Migrator, SqlClient } from "effect/sql"
import * as fs from "node:fs"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.ts"
import { migrations } from "./migrations.ts"
import { layerNodeSqlite } from "./NodeSqliteClient.ts"

export const databaseFile = (dataDir: string) => path.join(dataDir, "mcp-router.db")

const Durable = Layer.effectDiscard(SqlClient.SqlClient.use((sql) => sql`PRAGMA synchronous = FULL`))

const Migrations = Layer.effectDiscard(
  Migrator.make({})({ loader: Migrator.fromRecord(migrations) })
)

/** SqlClient on the configured SQLite file, migrated. */
export const DatabaseLayer = Layer.unwrap(
  AppConfig.use((config) =>
    Effect.sync(() => {
      const { dataDir } = config.current().storage
      fs.mkdirSync(dataDir, { recursive: true })
      return Layer.mergeAll(Durable, Migrations).pipe(
        Layer.provideMerge(layerNodeSqlite({ filename: databaseFile(dataDir) }))
      )
    })
  )
)

/** Every applied configuration, numbered: who changed what and when, and the whole result for rollback. */
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../config/AppConfig.ts"
import { storableConfig } from "../config/redactConfig.ts"

export interface ConfigVersion {
  readonly version: number
  readonly at: string
  readonly actor: string
  readonly changes: Record<string, unknown>
}

export class ConfigVersionError extends Schema.TaggedError<ConfigVersionError>()("ConfigVersionError", {
  message: Schema.String
}) {}

export class ConfigVersions extends Context.Service<ConfigVersions, {
  /** Stores a configuration (file form, secrets removed) and returns its version number. */
  readonly record: (actor: string, changes: Record<string, unknown>, config: unknown) => Effect.Effect<number, ConfigVersionError>
  readonly list: (limit: number) => Effect.Effect<ReadonlyArray<ConfigVersion>, ConfigVersionError>
  /** The stored configuration of a version, or undefined when there is no such version. */
  readonly get: (version: number) => Effect.Effect<unknown, ConfigVersionError>
  readonly latest: Effect.Effect<unknown, ConfigVersionError>
}>()("mcp-router/storage/ConfigVersions") {
  static readonly layer = Layer.effect(
    ConfigVersions,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const failed = (e: unknown) => new ConfigVersionError({ message: `configuration history failed: ${String((e as Error)?.message ?? e)}` })
      return ConfigVersions.of({
        record: (actor, changes, config) =>
          Effect.gen(function*() {
            yield* sql`INSERT INTO config_versions ${
              sql.insert({ at: new Date().toISOString(), actor, changes: JSON.stringify(changes), config: JSON.stringify(config) })
            }`
            const rows = yield* sql<{ readonly version: number }>`SELECT MAX(version) AS version FROM config_versions`
            return rows[0]?.version ?? 0
          }).pipe(sql.withTransaction, Effect.mapError(failed)),
        list: (limit) =>
          sql<{ readonly version: number; readonly at: string; readonly actor: string; readonly changes: string }>`
            SELECT version, at, actor, changes FROM config_versions ORDER BY version DESC LIMIT ${limit}`.pipe(
            Effect.map((rows) => rows.map((row) => ({ ...row, changes: JSON.parse(row.changes) as Record<string, unknown> }))),
            Effect.mapError(failed)
          ),
        latest: sql<{ readonly config: string }>`SELECT config FROM config_versions ORDER BY version DESC LIMIT 1`.pipe(
          Effect.map((rows) => (rows[0] === undefined ? undefined : JSON.parse(rows[0].config) as unknown)),
          Effect.mapError(failed)
        ),
        get: (version) =>
          sql<{ readonly config: string }>`SELECT config FROM config_versions WHERE version = ${version}`.pipe(
            Effect.map((rows) => (rows[0] === undefined ? undefined : JSON.parse(rows[0].config) as unknown)),
            Effect.mapError(failed)
          )
      })
    })
  )
}

/** Stores the configuration the router starts with when it differs from the last version, so it can be rolled back to. */
export const RecordStartupConfig = Layer.effectDiscard(
  Effect.gen(function*() {
    const versions = yield* ConfigVersions
    const config = storableConfig((yield* AppConfig).encoded())
    const latest = yield* versions.latest
    if (JSON.stringify(latest) !== JSON.stringify(config)) yield* versions.record("startup", {}, config)
  }).pipe(Effect.catchTag("ConfigVersionError", (e) => Effect.logWarning(e.message)))
)

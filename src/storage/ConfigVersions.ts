/**
 * Every applied configuration, numbered: who changed what and when, and the whole result for rollback.
 *
 * On a shared store (PostgreSQL) the versions are the configuration of every replica: a version
 * recorded by one router is announced (NOTIFY, in the transaction that stores it, so the notice
 * leaves only once the version is committed) and every other router loads the newest version and
 * applies it through AppConfig.update, keeping its own address, storage settings and admin key
 * (`withLocalSettings`). See `RecordStartupConfig` for what a router does at start.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { AppConfig } from "../config/AppConfig.ts"
import { sharedSettings, storableConfig, withLocalSettings } from "../config/redactConfig.ts"
import type { RouterConfigInput } from "../config/schema.ts"
import { describeStorageError, StorageInfo, type StorageInfoService } from "./Database.ts"

export interface ConfigVersion {
  readonly version: number
  readonly at: string
  readonly actor: string
  readonly changes: Record<string, unknown>
}

export class ConfigVersionError extends Schema.TaggedError<ConfigVersionError>()("ConfigVersionError", {
  message: Schema.String
}) {}

/** The channel on which a new version is announced; its payload is the version number. */
export const configChannel = "mcp_router_config"
/** After a lost connection to the store, how long before listening again. */
const relistenAfter = Duration.seconds(1)

export class ConfigVersions extends Context.Service<ConfigVersions, {
  /** Stores a configuration (file form, secrets removed) and returns its version number; announced to the other replicas. */
  readonly record: (actor: string, changes: Record<string, unknown>, config: unknown) => Effect.Effect<number, ConfigVersionError>
  readonly list: (limit: number) => Effect.Effect<ReadonlyArray<ConfigVersion>, ConfigVersionError>
  /** The stored configuration of a version, or undefined when there is no such version. */
  readonly get: (version: number) => Effect.Effect<unknown, ConfigVersionError>
  readonly latest: Effect.Effect<unknown, ConfigVersionError>
  /** The newest version with its number, or undefined when none is stored. */
  readonly newest: Effect.Effect<{ readonly version: number; readonly config: unknown } | undefined, ConfigVersionError>
  /** The configuration the last router to record its start-up configuration started with. */
  readonly lastStartup: Effect.Effect<unknown, ConfigVersionError>
}>()("mcp-router/storage/ConfigVersions") {
  static readonly layer = Layer.effect(
    ConfigVersions,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* StorageInfo
      const failed = (e: unknown) =>
        new ConfigVersionError({ message: `configuration history (${store.label}) failed: ${describeStorageError(e)}` })
      // PostgreSQL delivers a NOTIFY when its transaction commits: a rolled-back version is never announced
      const announce = (version: number) =>
        sql.onDialectOrElse({
          pg: () => Effect.asVoid(sql`SELECT pg_notify(${configChannel}, ${String(version)})`),
          orElse: () => Effect.void
        })
      const parsed = (rows: ReadonlyArray<{ readonly config: string }>) => (rows[0] === undefined ? undefined : JSON.parse(rows[0].config) as unknown)
      return ConfigVersions.of({
        record: (actor, changes, config) =>
          Effect.gen(function*() {
            const rows = yield* sql<{ readonly version: number }>`INSERT INTO config_versions ${
              sql.insert({ at: new Date().toISOString(), actor, changes: JSON.stringify(changes), config: JSON.stringify(config) })
            } RETURNING version`
            const version = rows[0]?.version ?? 0
            yield* announce(version)
            return version
          }).pipe(sql.withTransaction, Effect.mapError(failed)),
        list: (limit) =>
          sql<{ readonly version: number; readonly at: string; readonly actor: string; readonly changes: string }>`
            SELECT version, at, actor, changes FROM config_versions ORDER BY version DESC LIMIT ${limit}`.pipe(
            Effect.map((rows) => rows.map((row) => ({ ...row, changes: JSON.parse(row.changes) as Record<string, unknown> }))),
            Effect.mapError(failed)
          ),
        latest: sql<{ readonly config: string }>`SELECT config FROM config_versions ORDER BY version DESC LIMIT 1`.pipe(
          Effect.map(parsed),
          Effect.mapError(failed)
        ),
        newest: sql<{ readonly version: number; readonly config: string }>`SELECT version, config FROM config_versions ORDER BY version DESC LIMIT 1`.pipe(
          Effect.map((rows) => (rows[0] === undefined ? undefined : { version: rows[0].version, config: JSON.parse(rows[0].config) as unknown })),
          Effect.mapError(failed)
        ),
        lastStartup: sql<{ readonly config: string }>`SELECT config FROM config_versions WHERE actor = 'startup' ORDER BY version DESC LIMIT 1`.pipe(
          Effect.map(parsed),
          Effect.mapError(failed)
        ),
        get: (version) =>
          sql<{ readonly config: string }>`SELECT config FROM config_versions WHERE version = ${version}`.pipe(
            Effect.map(parsed),
            Effect.mapError(failed)
          )
      })
    })
  )
}

const sameSettings = (a: unknown, b: unknown) =>
  JSON.stringify(sharedSettings(a as RouterConfigInput)) === JSON.stringify(sharedSettings(b as RouterConfigInput))

/**
 * Applies the newest stored version here when its shared settings differ from this router's: through
 * AppConfig.update, the path every runtime change takes. A version this router cannot apply (a
 * setting invalid here) is logged, and the router keeps its configuration.
 */
const adoptNewest = Effect.gen(function*() {
  const versions = yield* ConfigVersions
  const config = yield* AppConfig
  const newest = yield* versions.newest
  if (newest === undefined || sameSettings(newest.config, storableConfig(config.encoded()))) return
  const restored = withLocalSettings(newest.config as RouterConfigInput, config.encoded()) as Record<string, unknown>
  yield* config.update(restored).pipe(
    Effect.andThen(Effect.logInfo(`Applied configuration version ${newest.version} from the shared store`)),
    Effect.catchTag("ConfigError", (error) =>
      Effect.logError(`Configuration version ${newest.version} from the shared store cannot be applied here; keeping this router's configuration: ${error.message}`))
  )
})

/**
 * Follows the versions other routers record: listens for their notices, and after every (re)connection
 * loads the newest version, so a notice missed while the store was unreachable is caught up.
 */
const followVersions = (listen: NonNullable<StorageInfoService["listen"]>) =>
  Effect.gen(function*() {
    let lost = false
    const session = Effect.scoped(Effect.gen(function*() {
      const next = yield* listen(configChannel)
      if (lost) {
        lost = false
        yield* Effect.logInfo("Listening for configuration changes from the shared store again")
      }
      yield* adoptNewest
      // every notice means "there is a newer version": one look at the newest serves a burst of them
      while (true) {
        yield* next
        yield* adoptNewest
      }
    }))
    yield* session.pipe(
      Effect.catch((error) =>
        Effect.suspend(() => {
          const first = !lost
          lost = true
          return first
            ? Effect.logWarning(`Configuration changes from the shared store are not received (${String((error as Error)?.message ?? error)}); trying again every second`)
            : Effect.void
        })),
      Effect.repeat(Schedule.spaced(relistenAfter))
    )
  })

/**
 * What a router does with the configuration history at start.
 *
 * Embedded store: stores the configuration the router starts with when it differs from the last
 * version, so it can be rolled back to.
 *
 * Shared store (several replicas): the stored versions are the configuration. A router whose
 * configuration (file and environment, without its own address, storage and admin key) is the one the
 * last router started with adopts the newest version, so a restarted replica keeps the changes made at
 * runtime; a router started with a different configuration (a new config file rolled out) records it,
 * and every running replica adopts it. Then it follows the versions the others record.
 */
export const RecordStartupConfig = Layer.effectDiscard(
  Effect.gen(function*() {
    const versions = yield* ConfigVersions
    const config = yield* AppConfig
    const store = yield* StorageInfo
    const started = storableConfig(config.encoded())
    if (!store.shared || store.listen === undefined) {
      const latest = yield* versions.latest
      if (JSON.stringify(latest) !== JSON.stringify(started)) yield* versions.record("startup", {}, started)
      return
    }
    const lastStartup = yield* versions.lastStartup
    if (lastStartup !== undefined && sameSettings(lastStartup, started)) yield* adoptNewest
    else yield* versions.record("startup", {}, started)
    yield* Effect.forkScoped(followVersions(store.listen))
  }).pipe(Effect.catchTag("ConfigVersionError", (e) => Effect.logWarning(e.message)))
)

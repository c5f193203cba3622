/**
 * The databases of `tools.databases`, by name. Each gets its engine from its URL (`sqlite:<path>`,
 * `postgres://`, `postgresql://`); connections open on first use and close when this service's
 * Layer closes. The list is read when the Layer is built.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as path from "node:path"
import { AppConfig } from "../../config/AppConfig.ts"
import type { RouterConfig } from "../../config/schema.ts"
import { ToolFailure } from "../ToolDefinition.ts"
import type { QueryRequest, QueryResult, SqlDatabase } from "./SqlDatabase.ts"
import { makeSqliteDatabase } from "./SqliteDatabase.ts"

export type DatabaseConfig = RouterConfig["tools"]["databases"][number]

export type DatabaseKind = "sqlite" | "postgres"

export const databaseKind = (url: string): DatabaseKind | undefined =>
  url.startsWith("sqlite:") ? "sqlite" : /^postgres(ql)?:\/\//.test(url) ? "postgres" : undefined

const makeDatabase = (config: DatabaseConfig, workingDir: string) => {
  const settings = { name: config.name, readOnly: config.readOnly, maxRows: config.maxRows, timeout: config.timeout }
  switch (databaseKind(config.url)) {
    case "sqlite":
      // a relative path is relative to the working directory, like every other tool path
      return makeSqliteDatabase({ ...settings, file: path.resolve(workingDir, config.url.slice("sqlite:".length)) })
    case "postgres":
      // the PostgreSQL client is loaded only when a database names one
      return Effect.flatMap(Effect.promise(() => import("./PostgresDatabase.ts")), (module) => module.makePostgresDatabase({ ...settings, url: config.url }))
    case undefined:
      return Effect.succeed<SqlDatabase>({
        query: () =>
          Effect.fail(new ToolFailure({
            message: `Database "${config.name}": its url must start with sqlite:, postgres:// or postgresql://`
          }))
      })
  }
}

export class Databases extends Context.Service<Databases, {
  readonly configured: ReadonlyArray<DatabaseConfig>
  readonly query: (database: string, request: QueryRequest) => Effect.Effect<QueryResult, ToolFailure>
}>()("mcp-router/tools/sql/Databases") {
  static readonly layer = Layer.effect(
    Databases,
    Effect.gen(function*() {
      const { databases: configured, workingDir } = (yield* AppConfig).current().tools
      // making a database opens nothing: its engine connects on its first query
      const byName = new Map<string, SqlDatabase>()
      for (const config of configured) byName.set(config.name, yield* makeDatabase(config, workingDir))
      const names = configured.map((config) => `"${config.name}"`).join(", ")
      return Databases.of({
        configured,
        query: (database, request) => {
          const found = byName.get(database)
          if (found !== undefined) return found.query(request)
          return Effect.fail(new ToolFailure({
            message: configured.length === 0
              ? `Unknown database "${database}": no databases are configured (tools.databases)`
              : `Unknown database "${database}"; the configured databases are ${names}`
          }))
        }
      })
    })
  )
}

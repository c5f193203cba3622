import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { defineTool, textOutput } from "../ToolDefinition.ts"
import { databaseKind, Databases } from "./Databases.ts"

const SqlParam = Schema.Union([Schema.String, Schema.Finite, Schema.Boolean, Schema.Null])

const SqlQueryInput = Schema.Struct({
  database: Schema.String.annotate({ description: "Name of a configured database (see the tool's description)" }),
  query: Schema.String.check(Schema.isNonEmpty()).annotate({
    description: "Exactly one SQL statement. Placeholders: ? for SQLite, $1, $2, ... for PostgreSQL"
  }),
  params: Schema.optionalKey(
    Schema.Array(SqlParam).annotate({ description: "Values bound to the placeholders in order; never spliced into the SQL" })
  )
})

export const sqlQueryTool = Effect.gen(function*() {
  const databases = yield* Databases
  const configured = databases.configured
  const listed = configured
    .map((db) => `${db.name} (${databaseKind(db.url) ?? "unknown kind"}, ${db.readOnly ? "read-only" : "read-write"})`)
    .join(", ")
  return defineTool({
    name: "sql_query",
    description: `Run one SQL statement with bound parameters on a configured database and get its columns and rows ` +
      `(rows are arrays in column order, at most the database's maxRows, then truncated: true; ` +
      `bytes come as base64, integers beyond 2^53 as text). ` +
      `Each call is its own transaction; read-only databases refuse every write. Databases: ${listed || "none"}.`,
    input: SqlQueryInput,
    annotations: {
      title: "SQL query",
      readOnlyHint: configured.every((db) => db.readOnly),
      destructiveHint: configured.some((db) => !db.readOnly),
      idempotentHint: false,
      // a PostgreSQL server is reached over the network; a SQLite file is local
      openWorldHint: configured.some((db) => databaseKind(db.url) === "postgres")
    },
    handler: ({ database, query, params }) =>
      Effect.gen(function*() {
        const started = performance.now()
        const result = yield* databases.query(database, { sql: query, params: params ?? [] })
        const output = { database, ...result, durationMs: Math.round(performance.now() - started) }
        // compact JSON: pretty-printing would put every value of every row on its own line
        return textOutput(JSON.stringify(output), output)
      })
  })
})

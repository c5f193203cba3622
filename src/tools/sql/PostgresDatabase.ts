/**
 * A PostgreSQL database through effect's SQL client (@effect/sql-pg): a connection pool made on first
 * use and closed with the database's scope. Every statement runs in its own transaction, READ ONLY for
 * read-only databases, with `statement_timeout` set to the database's timeout; an interrupted call
 * cancels its statement on the server (the client sends a CancelRequest).
 */
import { PgClient, type PgConnection } from "@effect/sql-pg"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import * as Reactivity from "effect/reactivity/Reactivity"
import type { SqlError } from "effect/sql/SqlError"
import { expandEnv } from "../../config/expandEnv.ts"
import { ToolFailure } from "../ToolDefinition.ts"
import { toJsonValue } from "./jsonValue.ts"
import type { DatabaseSettings, QueryRequest, QueryResult, SqlDatabase } from "./SqlDatabase.ts"

export interface PostgresSettings extends DatabaseSettings {
  /** postgres:// or postgresql:// URL as configured: ${VAR} is expanded on first use. */
  readonly url: string
}

/** Past the server-side statement_timeout, how long the client waits before it cancels the call itself. */
const clientGrace = Duration.seconds(1)
/** Bound on the ROLLBACK that ends every call; a connection that cannot answer it is closed. */
const rollbackTimeout = Duration.seconds(5)

/** The server's error behind a SqlError: an Error carrying PostgreSQL's fields (code, detail, hint). */
interface ServerError {
  readonly message: string
  readonly code?: string
  readonly detail?: string
  readonly hint?: string
}

const describeSqlError = (label: string, settings: PostgresSettings, error: SqlError): string => {
  const reason = error.reason
  const server = (reason.cause instanceof Error ? reason.cause : { message: reason.message ?? reason._tag }) as ServerError
  if (reason.operation === "connect") return `${label}: cannot connect: ${server.message}`
  const extra = [server.detail, server.hint].filter((part) => part !== undefined && part !== "").join(" ")
  const text = extra === "" ? server.message : `${server.message}. ${extra}`
  switch (server.code) {
    case "25006": // read_only_sql_transaction
      return `${label} is read-only (readOnly: true): ${text}`
    case "57014": // query_canceled: the statement_timeout, or a cancel from elsewhere
      return `${label}: ${text} (the database's timeout is ${settings.timeout} ms)`
    case "42601":
      // PostgreSQL's extended protocol (which binds the parameters) takes exactly one statement
      return text.includes("multiple commands")
        ? `${label}: the query holds more than one statement; send one statement per call`
        : `${label}: ${text} (SQLSTATE ${server.code})`
    case undefined:
      return `${label}: ${text}`
    default:
      return `${label}: ${text} (SQLSTATE ${server.code})`
  }
}

/** The URL's own application_name wins; otherwise the server's activity view shows the router. */
const applicationName = (url: string) => {
  try {
    return new URL(url).searchParams.has("application_name") ? undefined : "mcp-router-pro"
  } catch {
    return undefined
  }
}

/** Rows come keyed by column name, so two columns of one name cannot both be returned. */
const toQueryResult = (label: string, result: PgConnection.Result, maxRows: number) =>
  Effect.gen(function*() {
    const columns = result.fields.map((field) => field.name)
    const duplicate = columns.find((name, index) => columns.indexOf(name) !== index)
    if (duplicate !== undefined) {
      return yield* new ToolFailure({
        message: `${label}: the result has more than one column named "${duplicate}"; name them apart with AS`
      })
    }
    if (columns.length === 0) return { columns, rows: [], rowCount: result.rowCount, truncated: false } satisfies QueryResult
    // the driver has read the whole result by now; the statement_timeout bounds how long that takes
    const rows = result.rows.slice(0, maxRows).map((row) => columns.map((name) => toJsonValue(row[name])))
    return { columns, rows, rowCount: rows.length, truncated: result.rows.length > maxRows } satisfies QueryResult
  })

export const makePostgresDatabase = (settings: PostgresSettings) =>
  Effect.gen(function*() {
    const label = `Database "${settings.name}"`
    const lifetime = yield* Scope.Scope
    const connecting = yield* Semaphore.make(1)
    let client: PgClient.PgClient | undefined

    // made on first use, so an unset ${VAR} or a server that is down fails a call, not the router's start
    const getClient = connecting.withPermit(Effect.suspend(() =>
      client !== undefined ? Effect.succeed(client) : Effect.gen(function*() {
        const url = yield* expandEnv(settings.url, `tools.databases "${settings.name}" url`)
        const name = applicationName(url)
        client = yield* PgClient.make({
          url: Redacted.make(url),
          // ad hoc statements rarely repeat: named prepared statements would only pile up on the server
          prepare: false,
          connectTimeout: settings.timeout,
          ...(name === undefined ? {} : { applicationName: name })
        }).pipe(
          Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make),
          Scope.provide(lifetime),
          Effect.mapError((error) => new ToolFailure({ message: describeSqlError(label, settings, error) }))
        )
        return client
      })
    ))

    const runInTransaction = (sql: PgClient.PgClient, request: QueryRequest) =>
      Effect.scoped(Effect.gen(function*() {
        const connection = yield* sql.reserve
        // ROLLBACK ends every call: a read-only one never has anything to keep (session settings it
        // changed are undone too), and after a COMMIT it is a no-op
        yield* Effect.acquireRelease(
          connection.executeRaw(settings.readOnly ? "BEGIN READ ONLY" : "BEGIN", []),
          () => connection.executeRaw("ROLLBACK", []).pipe(Effect.timeout(rollbackTimeout), Effect.ignore)
        )
        // a SELECT, not SET LOCAL: it takes the transaction's first snapshot, after which
        // `SET TRANSACTION READ WRITE` is refused
        yield* connection.executeRaw("SELECT set_config('statement_timeout', $1, true)", [String(settings.timeout)])
        const result = (yield* connection.executeRaw(request.sql, request.params)) as PgConnection.Result
        const converted = yield* toQueryResult(label, result, settings.maxRows)
        if (!settings.readOnly) yield* connection.executeRaw("COMMIT", [])
        return converted
      }))

    const query = (request: QueryRequest) =>
      getClient.pipe(
        Effect.flatMap((sql) => runInTransaction(sql, request)),
        Effect.catchTag("SqlError", (error) => Effect.fail(new ToolFailure({ message: describeSqlError(label, settings, error) }))),
        // the server cancels a statement at its timeout; this covers a server or network that stops answering
        Effect.timeoutOrElse({
          duration: Duration.sum(Duration.millis(settings.timeout), clientGrace),
          orElse: () =>
            Effect.fail(new ToolFailure({
              message: `${label}: no answer within the database's timeout of ${settings.timeout} ms; the query was cancelled`
            }))
        })
      )

    return { query } satisfies SqlDatabase
  })

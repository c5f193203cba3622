/**
 * effect's SqlClient on Node's built-in SQLite (node:sqlite): one connection shared through a
 * semaphore, SQLite's statement compiler, errors classified by effect's SQLite rules. Prepared
 * statements are kept by their SQL text (the most recently used few hundred), so a statement run
 * again (the audit trail's insert, transaction control, key look-ups) is compiled once.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Semaphore from "effect/Semaphore"
import * as Stream from "effect/Stream"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import * as SqlConnection from "effect/sql/SqlConnection"
import * as SqlError from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"
import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite"

export interface NodeSqliteOptions {
  readonly filename: string
  /** Opened read-only by SQLite itself: writes fail whatever the SQL says. */
  readonly readOnly?: boolean
  /** Prepared statements kept for reuse (default 256). */
  readonly statementCacheSize?: number
}

const sqlError = (cause: unknown, operation: string) =>
  new SqlError.SqlError({ reason: SqlError.classifySqliteError(cause, { message: (cause as Error)?.message ?? "SQLite failed", operation }) })

export const makeNodeSqliteClient = (options: NodeSqliteOptions) =>
  Effect.gen(function*() {
    const db = yield* Effect.acquireRelease(
      Effect.try({
        try: () => new DatabaseSync(options.filename, { readOnly: options.readOnly === true }),
        catch: (cause) => sqlError(cause, "open")
      }),
      (db) => Effect.sync(() => db.isOpen && db.close())
    )
    if (options.readOnly !== true) db.exec("PRAGMA journal_mode = WAL")

    // a Map keeps insertion order: the first key is the least recently used
    const cacheSize = options.statementCacheSize ?? 256
    const statements = new Map<string, StatementSync>()
    const prepared = (sql: string): StatementSync => {
      const cached = statements.get(sql)
      if (cached !== undefined) {
        statements.delete(sql)
        statements.set(sql, cached)
        return cached
      }
      const statement = db.prepare(sql)
      if (cacheSize > 0) {
        statements.set(sql, statement)
        if (statements.size > cacheSize) statements.delete(statements.keys().next().value!)
      }
      return statement
    }
    const rows = (sql: string, params: ReadonlyArray<unknown>, arrays: boolean) =>
      Effect.try({
        try: () => {
          const statement = prepared(sql)
          statement.setReturnArrays(arrays)
          return statement.all(...(params as Array<SQLInputValue>)) as Array<any>
        },
        catch: (cause) => sqlError(cause, "execute")
      })
    const execute = (sql: string, params: ReadonlyArray<unknown>, transformRows?: <A extends object>(rows: ReadonlyArray<A>) => ReadonlyArray<A>) =>
      Effect.map(rows(sql, params, false), (result) => (transformRows === undefined ? result : transformRows(result)))
    const connection: SqlConnection.Connection = {
      execute,
      executeRaw: (sql, params) => rows(sql, params, false),
      executeStream: (sql, params, transformRows) => Stream.fromIterableEffect(execute(sql, params, transformRows)),
      executeValues: (sql, params) => rows(sql, params, true),
      executeValuesUnprepared: (sql, params) => rows(sql, params, true),
      executeUnprepared: execute
    }
    const acquirers = SqlClient.makeSqliteAcquirers({
      connection: Effect.succeed(connection),
      semaphore: yield* Semaphore.make(1),
      isTransaction: () => db.isTransaction
    })
    return yield* SqlClient.make({
      acquirer: acquirers.acquirer,
      borrower: acquirers.borrower,
      transactionAcquirer: acquirers.transactionAcquirer,
      onCommitFailure: acquirers.onCommitFailure,
      ...(acquirers.isTransaction === undefined ? {} : { isTransaction: acquirers.isTransaction }),
      compiler: Statement.makeCompilerSqlite(),
      driver: "node:sqlite",
      spanAttributes: [["db.system.name", "sqlite"]]
    })
  })

export const layerNodeSqlite = (options: NodeSqliteOptions) =>
  Layer.effect(SqlClient.SqlClient, makeNodeSqliteClient(options)).pipe(Layer.provide(Reactivity.layer))

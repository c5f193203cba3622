/**
 * effect's SqlClient on Node's built-in SQLite (node:sqlite): one connection shared through a
 * semaphore, SQLite's statement compiler, errors classified by effect's SQLite rules.
 */
import { Effect, Layer, Semaphore, Stream } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import { SqlClient, SqlConnection, SqlError, Statement } from "effect/sql"
import { DatabaseSync, type SQLInputValue } from "node:sqlite"

export interface NodeSqliteOptions {
  readonly filename: string
  /** Opened read-only by SQLite itself: writes fail whatever the SQL says. */
  readonly readOnly?: boolean
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

    const rows = (sql: string, params: ReadonlyArray<unknown>, arrays: boolean) =>
      Effect.try({
        try: () => {
          const statement = db.prepare(sql)
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

/**
 * The child process that holds one SQLite database open (see SqliteDatabase.ts). node:sqlite runs
 * statements synchronously and cannot interrupt them, so a runaway statement in the router's own
 * process would freeze it; here the parent stops one by killing this process.
 *
 * argv: <file> <"read-only" | "read-write"> <busy timeout ms>. Messages: WorkerRequest in, WorkerReply out.
 */
import { constants, DatabaseSync } from "node:sqlite"
import { toJsonValue } from "./jsonValue.ts"

export interface WorkerRequest {
  readonly sql: string
  readonly params: ReadonlyArray<string | number | boolean | null>
  readonly maxRows: number
}

export type WorkerFailure = "open" | "read-only" | "refused" | "multiple-statements" | "transaction-left-open" | "sql"

export type WorkerReply =
  | { readonly type: "ready" }
  | {
    readonly type: "result"
    readonly columns: ReadonlyArray<string>
    readonly rows: ReadonlyArray<ReadonlyArray<unknown>>
    readonly rowCount: number
    readonly truncated: boolean
  }
  | { readonly type: "error"; readonly failure: WorkerFailure; readonly message: string }

const SQLITE_READONLY = 8
const SQLITE_AUTH = 23

const reply = (message: WorkerReply, then: () => void = () => {}) => process.send?.(message, then)

/** SQLite has no boolean type: true and false are stored as 1 and 0. */
const bindable = (params: WorkerRequest["params"]) => params.map((value) => typeof value === "boolean" ? Number(value) : value)

const openDatabase = (file: string, readOnly: boolean, busyTimeout: number) => {
  const db = new DatabaseSync(file, { readOnly, timeout: busyTimeout })
  // ATTACH (and VACUUM INTO, which attaches its target) would reach files other than the configured
  // one, and VACUUM INTO writes even through a read-only connection. "" is a private temporary
  // database, which a plain VACUUM attaches.
  db.setAuthorizer((action, fileName) =>
    action === constants.SQLITE_ATTACH && fileName !== "" ? constants.SQLITE_DENY : constants.SQLITE_OK
  )
  return db
}

/** SQLite compiles only the first statement of a string; what it left over must hold no other. */
const holdsAnotherStatement = (db: DatabaseSync, sql: string, firstStatement: string) => {
  const rest = sql.slice(firstStatement.length)
  if (rest.trim() === "") return false
  try {
    db.prepare(rest)
    return true
  } catch (error) {
    // node:sqlite's own error for text that is only blanks, comments and semicolons
    return (error as { code?: string }).code !== "ERR_INVALID_ARG_VALUE"
  }
}

const run = (db: DatabaseSync, readOnly: boolean, request: WorkerRequest): WorkerReply => {
  try {
    const statement = db.prepare(request.sql)
    if (holdsAnotherStatement(db, request.sql, statement.sourceSQL)) {
      return { type: "error", failure: "multiple-statements", message: "the query holds more than one statement" }
    }
    statement.setReadBigInts(true)
    const columns = statement.columns().map((column) => column.name)
    let result: WorkerReply
    if (columns.length === 0) {
      const { changes } = statement.run(...bindable(request.params))
      result = { type: "result", columns, rows: [], rowCount: Number(changes), truncated: false }
    } else {
      statement.setReturnArrays(true)
      const rows: Array<ReadonlyArray<unknown>> = []
      let truncated = false
      // stop reading at maxRows + 1: the rest of a huge result is never computed
      for (const row of statement.iterate(...bindable(request.params)) as Iterable<ReadonlyArray<unknown>>) {
        if (rows.length === request.maxRows) {
          truncated = true
          break
        }
        rows.push(row.map(toJsonValue))
      }
      result = { type: "result", columns, rows, rowCount: rows.length, truncated }
    }
    // each call is its own transaction: one left open would hold the database's locks between calls
    if (db.isTransaction) {
      db.exec("ROLLBACK")
      return {
        type: "error",
        failure: "transaction-left-open",
        message: "the statement left a transaction open; it was rolled back"
      }
    }
    return result
  } catch (error) {
    const { errcode, message } = error as { errcode?: number; message: string }
    if (db.isTransaction) db.exec("ROLLBACK")
    // extended result codes keep the primary code in their low byte
    const primary = (errcode ?? 0) & 0xff
    const failure = readOnly && primary === SQLITE_READONLY ? "read-only" : primary === SQLITE_AUTH ? "refused" : "sql"
    return { type: "error", failure, message }
  }
}

const serve = (db: DatabaseSync, readOnly: boolean) => {
  process.on("message", (request: WorkerRequest) => reply(run(db, readOnly, request)))
  // the parent closed the channel (or died): release the file and go
  process.on("disconnect", () => {
    db.close()
    process.exit(0)
  })
  reply({ type: "ready" })
}

const [file = "", mode = "read-only", busyTimeout = "0"] = process.argv.slice(2)
try {
  serve(openDatabase(file, mode === "read-only", Number(busyTimeout)), mode === "read-only")
} catch (error) {
  reply({ type: "error", failure: "open", message: (error as Error).message }, () => process.exit(1))
}

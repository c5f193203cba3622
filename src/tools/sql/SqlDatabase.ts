/** What every database engine behind sql_query offers, whatever its driver. */
import type * as Effect from "effect/Effect"
import type { ToolFailure } from "../ToolDefinition.ts"

export type SqlParam = string | number | boolean | null

export interface QueryRequest {
  /** Exactly one statement; a second one is refused. */
  readonly sql: string
  /** Bound to the statement's placeholders (`?` or `$1`), never spliced into its text. */
  readonly params: ReadonlyArray<SqlParam>
}

export interface QueryResult {
  /** Column names in order; empty for a statement that returns no rows. */
  readonly columns: ReadonlyArray<string>
  /** Each row's values in column order, JSON-safe (see jsonValue.ts); at most the database's maxRows. */
  readonly rows: ReadonlyArray<ReadonlyArray<unknown>>
  /** Rows returned, or rows changed by a statement that returns none (INSERT, UPDATE, DELETE). */
  readonly rowCount: number
  /** The statement produced more than maxRows rows; the rest were not returned. */
  readonly truncated: boolean
}

/** One configured database; its connection is opened on first use and closed with its scope. */
export interface SqlDatabase {
  readonly query: (request: QueryRequest) => Effect.Effect<QueryResult, ToolFailure>
}

/** The settings of one database, as an engine needs them (the config entry with its target resolved). */
export interface DatabaseSettings {
  readonly name: string
  readonly readOnly: boolean
  readonly maxRows: number
  /** Longest a statement may run, ms. */
  readonly timeout: number
}

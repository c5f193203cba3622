/**
 * The PostgreSQL server of the sql_query tests: its URL comes from MCP_TEST_POSTGRES_URL, which
 * `bash .ci/postgres.sh` starts a server for and prints. Without it the PostgreSQL tests are skipped.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { Reactivity } from "effect/reactivity"

export const postgresUrl = process.env["MCP_TEST_POSTGRES_URL"]

export const skipMessage = "SKIPPED: PostgreSQL tests need MCP_TEST_POSTGRES_URL; run: " +
  "export MCP_TEST_POSTGRES_URL=\"$(bash .ci/postgres.sh)\""

if (postgresUrl === undefined) console.warn(`\n*** ${skipMessage} ***\n`)

/** `postgresUrl` with extra query parameters (application_name, ...) or another password. */
export const urlWith = (options: { readonly params?: Record<string, string>; readonly password?: string; readonly port?: number }) => {
  const url = new URL(postgresUrl!)
  for (const [key, value] of Object.entries(options.params ?? {})) url.searchParams.set(key, value)
  if (options.port !== undefined) url.port = String(options.port)
  // URL would percent-encode "${...}", which expandEnv must see as written
  const text = url.toString()
  return options.password === undefined ? text : text.replace(`:${url.password}@`, `:${options.password}@`)
}

/** Runs one statement over a connection of its own, outside the router (setup and checks). */
export const admin = (sql: string, params: ReadonlyArray<unknown> = []) =>
  Effect.scoped(Effect.gen(function*() {
    const client = yield* PgClient.make({ url: Redacted.make(postgresUrl!), applicationName: "mcp-router-tests-admin" })
    const connection = yield* client.reserve
    const result = yield* connection.executeRaw(sql, params)
    return (result as { readonly rows: ReadonlyArray<Record<string, unknown>> }).rows
  })).pipe(Effect.provideServiceEffect(Reactivity.Reactivity, Reactivity.make))

/** Backends connected with this application_name (the router's connections for one test). */
export const backends = (applicationName: string) =>
  Effect.map(
    admin("SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1", [applicationName]),
    (rows) => rows[0]!["n"] as number
  )

/** A name no other test run uses, for tables and application names. */
export const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`

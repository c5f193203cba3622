/**
 * sql_query on a real PostgreSQL server through the Router: binding, results, read-only transactions,
 * statement_timeout, cancellation, connection failures and connection cleanup.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import { afterAll, beforeAll } from "vitest"
import type { Router } from "../../../src/router/Router.ts"
import { admin, backends, postgresUrl, skipMessage, uniqueName, urlWith } from "./postgresServer.ts"
import * as fs from "node:fs"
import { makeTempDir } from "../../support/server.ts"
import { eventually, sqlFails, sqlInvalid, sqlLayer, sqlOk } from "./support.ts"

const table = uniqueName("people")
/** The working folder the configuration needs; these tests use no file in it. */
let workingDir: string

/** A database entry on the test server; each gets an application_name of its own to count its connections. */
const database = (name: string, options: Record<string, unknown> = {}) => {
  const applicationName = uniqueName("mcp_sql_test")
  return {
    applicationName,
    // read when a test runs: without a server the suite is skipped and there is no URL to build on
    get config() {
      return { name, url: urlWith({ params: { application_name: applicationName } }), ...options }
    }
  }
}

const readOnlyPg = database("pg")
const writablePg = database("pgrw", { readOnly: false })

const withDatabases = <A, E>(
  databases: ReadonlyArray<Record<string, unknown>>,
  effect: Effect.Effect<A, E, Router>,
  tools: Record<string, unknown> = {}
) => effect.pipe(Effect.provide(sqlLayer(workingDir, { databases, ...tools })))

const count = (rows: ReadonlyArray<Record<string, unknown>>) => Number(rows[0]!["n"])

describe.skipIf(postgresUrl === undefined)(`sql_query on PostgreSQL ${postgresUrl === undefined ? `(${skipMessage})` : ""}`, () => {
  beforeAll(() => {
    workingDir = makeTempDir("mcp-sql-pg-")
    return Effect.runPromise(Effect.gen(function*() {
      yield* admin(`CREATE TABLE ${table} (id serial PRIMARY KEY, name text NOT NULL, age int)`)
      yield* admin(`INSERT INTO ${table} (name, age) VALUES ('Ada', 36), ('Grace', 45), ('Linus', 21), ('Barbara', 60), ('Ken', 52)`)
    }))
  })
  afterAll(async () => {
    await Effect.runPromise(admin(`DROP TABLE IF EXISTS ${table}, ${table}_made`))
    fs.rmSync(workingDir, { recursive: true, force: true })
  })

  describe("results", () => {
    it.live("selects with bound parameters and returns columns, rows, rowCount and durationMs", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        const result = yield* sqlOk({ database: "pg", query: `SELECT id, name FROM ${table} WHERE age > $1 ORDER BY id`, params: [40] })
        assert.deepStrictEqual(result.columns, ["id", "name"])
        assert.deepStrictEqual(result.rows, [[2, "Grace"], [4, "Barbara"], [5, "Ken"]])
        assert.strictEqual(result.rowCount, 3)
        assert.strictEqual(result.truncated, false)
        assert.isTrue(Number.isInteger(result.durationMs) && result.durationMs >= 0)
      })))

    it.live("binds parameters: SQL in a parameter is data, never SQL", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        const injection = "x' OR '1'='1"
        const matched = yield* sqlOk({ database: "pg", query: `SELECT count(*)::int AS n FROM ${table} WHERE name = $1`, params: [injection] })
        assert.deepStrictEqual(matched.rows, [[0]])
        const echoed = yield* sqlOk({ database: "pg", query: "SELECT $1::text AS text", params: ["'; DROP TABLE people; --"] })
        assert.deepStrictEqual(echoed.rows, [["'; DROP TABLE people; --"]])
      })))

    it.live("returns JSON-safe values: big integers, numerics, timestamps, JSON, bytes, NaN", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        const result = yield* sqlOk({
          database: "pg",
          query: "SELECT 9007199254740993::int8 AS big, 7::int8 AS small, 1.50::numeric AS num, " +
            "'2024-01-02T03:04:05Z'::timestamptz AS at, '{\"a\":[1,2]}'::jsonb AS doc, '\\xdeadbeef'::bytea AS bytes, " +
            "'NaN'::float8 AS nan, $1::boolean AS yes, NULL::text AS empty",
          params: [true]
        })
        assert.deepStrictEqual(result.columns, ["big", "small", "num", "at", "doc", "bytes", "nan", "yes", "empty"])
        assert.deepStrictEqual(result.rows, [[
          "9007199254740993",
          7,
          "1.50",
          "2024-01-02T03:04:05.000Z",
          { a: [1, 2] },
          Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString("base64"),
          "NaN",
          true,
          null
        ]])
      })))

    it.live("an empty result still names its columns", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        const result = yield* sqlOk({ database: "pg", query: `SELECT id, name FROM ${table} WHERE id < 0` })
        assert.deepStrictEqual(result.columns, ["id", "name"])
        assert.deepStrictEqual(result.rows, [])
      })))

    it.live("caps rows at maxRows and says the result was truncated", () =>
      withDatabases([{ ...readOnlyPg.config, maxRows: 2 }], Effect.gen(function*() {
        const capped = yield* sqlOk({ database: "pg", query: "SELECT x FROM generate_series(1, 50) AS x" })
        assert.deepStrictEqual(capped.rows, [[1], [2]])
        assert.strictEqual(capped.rowCount, 2)
        assert.strictEqual(capped.truncated, true)
        const exact = yield* sqlOk({ database: "pg", query: "SELECT x FROM generate_series(1, 2) AS x" })
        assert.strictEqual(exact.truncated, false)
      })))

    it.live("refuses two columns of one name, which keyed rows cannot both carry", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        yield* sqlFails({ database: "pg", query: "SELECT 1 AS a, 2 AS a" }, `more than one column named "a"`, "AS")
      })))
  })

  describe("writes", () => {
    it.live("a read-only database refuses writes in its READ ONLY transaction, whatever the statement looks like", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        for (
          const query of [
            `INSERT INTO ${table} (name) VALUES ('Eve')`,
            `CREATE TABLE ${table}_made (x int)`,
            `UPDATE ${table} SET age = 0`,
            // starts with SELECT and still writes: refused by PostgreSQL, not by looking at the text
            `WITH gone AS (DELETE FROM ${table} RETURNING *) SELECT count(*) FROM gone`,
            `SELECT nextval(pg_get_serial_sequence('${table}', 'id'))`
          ]
        ) {
          yield* sqlFails({ database: "pg", query }, `Database "pg" is read-only`, "read-only transaction")
        }
        assert.strictEqual(count(yield* admin(`SELECT count(*) AS n FROM ${table} WHERE age > 0`)), 5)
        assert.strictEqual(count(yield* admin("SELECT count(*) AS n FROM pg_tables WHERE tablename = $1", [`${table}_made`])), 0)
      })))

    it.live("SET TRANSACTION READ WRITE cannot lift the read-only transaction", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        yield* sqlFails({ database: "pg", query: "SET TRANSACTION READ WRITE" }, "read-write mode must be set before any query")
        yield* sqlFails({ database: "pg", query: `DELETE FROM ${table}` }, "is read-only")
        // a session setting changed by a call is rolled back with it
        yield* sqlOk({ database: "pg", query: "SET search_path TO nowhere" })
        assert.deepStrictEqual((yield* sqlOk({ database: "pg", query: "SHOW search_path" })).rows, [['"$user", public']])
      })))

    it.live("a writable database commits INSERT (with RETURNING) and CREATE", () =>
      withDatabases([writablePg.config], Effect.gen(function*() {
        const inserted = yield* sqlOk({ database: "pgrw", query: `INSERT INTO ${table} (name, age) VALUES ($1, $2)`, params: ["Eve", 0] })
        assert.deepStrictEqual(inserted.columns, [])
        assert.strictEqual(inserted.rowCount, 1)
        const returned = yield* sqlOk({ database: "pgrw", query: `INSERT INTO ${table} (name, age) VALUES ($1, 0) RETURNING name`, params: ["Mallory"] })
        assert.deepStrictEqual(returned.rows, [["Mallory"]])
        yield* sqlOk({ database: "pgrw", query: `CREATE TABLE ${table}_made (x int)` })
        assert.deepStrictEqual(yield* admin(`SELECT name FROM ${table} WHERE age = 0 ORDER BY name`), [{ name: "Eve" }, { name: "Mallory" }])
        assert.strictEqual(count(yield* admin("SELECT count(*) AS n FROM pg_tables WHERE tablename = $1", [`${table}_made`])), 1)
        yield* admin(`DELETE FROM ${table} WHERE age = 0`)
      })))

    it.live("refuses a query holding more than one statement and runs none of it", () =>
      withDatabases([writablePg.config], Effect.gen(function*() {
        yield* sqlFails(
          { database: "pgrw", query: `INSERT INTO ${table} (name, age) VALUES ('Twice', 1); DELETE FROM ${table}` },
          "more than one statement",
          "one statement per call"
        )
        assert.strictEqual(count(yield* admin(`SELECT count(*) AS n FROM ${table} WHERE name = 'Twice'`)), 0)
      })))
  })

  describe("failures", () => {
    it.live("a SQL error is an isError result with PostgreSQL's message and SQLSTATE", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        yield* sqlFails({ database: "pg", query: "SELEC 1" }, `Database "pg"`, `syntax error at or near "SELEC"`, "SQLSTATE 42601")
        yield* sqlFails({ database: "pg", query: "SELECT * FROM nowhere_at_all" }, `relation "nowhere_at_all" does not exist`, "SQLSTATE 42P01")
      })))

    it.live("a statement past the database's timeout is cancelled by statement_timeout; the next call works", () =>
      withDatabases([{ ...readOnlyPg.config, timeout: 200 }], Effect.gen(function*() {
        yield* sqlFails({ database: "pg", query: "SELECT pg_sleep(5)" }, "canceling statement due to statement timeout", "timeout is 200 ms")
        assert.deepStrictEqual((yield* sqlOk({ database: "pg", query: "SELECT 1 AS one" })).rows, [[1]])
      })))

    it.live("an interrupted call (the router's tools.timeout) cancels its statement on the server", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        yield* sqlFails({ database: "pg", query: "SELECT pg_sleep(30)" }, "timed out after 500 ms")
        const sleeping = admin(
          "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND query LIKE '%pg_sleep(30)%'",
          [readOnlyPg.applicationName]
        )
        yield* eventually(Effect.map(sleeping, count), (n) => n === 0)
        assert.deepStrictEqual((yield* sqlOk({ database: "pg", query: "SELECT 1 AS one" })).rows, [[1]])
      }), { timeout: 500 }))

    it.live("a refused connection fails at once with a clear message", () =>
      withDatabases([{ name: "down", url: urlWith({ port: 1 }) }], Effect.gen(function*() {
        const text = yield* sqlFails({ database: "down", query: "SELECT 1" }, `Database "down": cannot connect`, "ECONNREFUSED")
        assert.notInclude(text, "postgres://", "the url (and its password) is never shown")
      })))

    it.live("a wrong password fails naming the authentication", () =>
      withDatabases([{ name: "badpw", url: urlWith({ password: "not-the-password" }) }], Effect.gen(function*() {
        yield* sqlFails({ database: "badpw", query: "SELECT 1" }, "cannot connect", "password authentication failed")
      })))

    it.live("${VAR} in the url is read from the environment on use; an unset one fails naming it, and is not remembered", () => {
      const variable = uniqueName("MCP_SQL_TEST_PASSWORD").toUpperCase()
      return withDatabases([{ name: "env", url: urlWith({ password: `\${${variable}}` }) }], Effect.gen(function*() {
        yield* sqlFails({ database: "env", query: "SELECT 1" }, `\${${variable}}`, "not set")
        process.env[variable] = decodeURIComponent(new URL(postgresUrl!).password)
        assert.deepStrictEqual((yield* sqlOk({ database: "env", query: "SELECT 1 AS one" })).rows, [[1]])
      })).pipe(Effect.ensuring(Effect.sync(() => delete process.env[variable])))
    })

    it.live("arguments of the wrong type are refused by the Schema", () =>
      withDatabases([readOnlyPg.config], Effect.gen(function*() {
        yield* sqlInvalid({ database: "pg", query: "SELECT $1", params: [{ a: 1 }] }, "params")
        yield* sqlInvalid({ database: "pg", query: "SELECT $1", params: 1 }, "params")
      })))
  })

  describe("connections", () => {
    it.live("opens no connection until the first call and leaves none open after the layer closes", () =>
      Effect.gen(function*() {
        const leak = database("leak")
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(sqlLayer(workingDir, { databases: [leak.config] }), scope)
        assert.strictEqual(yield* backends(leak.applicationName), 0)
        // concurrent calls make the pool open more than one connection
        yield* Effect.forEach(
          [1, 2, 3, 4],
          () => sqlOk({ database: "leak", query: "SELECT pg_sleep(0.2)" }),
          { concurrency: "unbounded" }
        ).pipe(Effect.provide(context))
        assert.isAbove(yield* backends(leak.applicationName), 1)
        yield* Scope.close(scope, Exit.void)
        yield* eventually(backends(leak.applicationName), (n) => n === 0)
      }))
  })
})

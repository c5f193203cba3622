/** sql_query on real SQLite files through the Router: binding, results, read-only, limits and processes. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Layer, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { afterEach, beforeEach } from "vitest"
import { Router } from "../../../src/router/Router.ts"
import { caller } from "../fixtures.ts"
import {
  eventually,
  makeSqliteFolder,
  people,
  readRows,
  sqlFails,
  sqlInvalid,
  sqlLayer,
  sqlOk,
  sqlQuery
} from "./support.ts"

let folder: ReturnType<typeof makeSqliteFolder>
beforeEach(() => {
  folder = makeSqliteFolder()
})
afterEach(() => folder.cleanup())

const readOnlyDb = { name: "app", url: "sqlite:app.db" }
const writableDb = { name: "rw", url: "sqlite:app.db", readOnly: false }

/** Runs `effect` on a fresh Router whose databases are `databases` (plus any other tools settings). */
const withDatabases = <A, E>(
  databases: ReadonlyArray<Record<string, unknown>>,
  effect: Effect.Effect<A, E, Router>,
  tools: Record<string, unknown> = {}
) => effect.pipe(Effect.provide(sqlLayer(folder.root, { databases, ...tools })))

/** PIDs of the SQLite worker processes serving `file` (read from /proc). */
const workerPids = (file: string) =>
  Effect.sync(() =>
    fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).filter((pid) => {
      try {
        const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        return argv.some((arg) => arg.endsWith("sqliteWorker.ts")) && argv.includes(file)
      } catch {
        return false // the process ended while we looked
      }
    })
  )

/** The process has exited and been reaped by its parent (the router noticed), not merely a zombie. */
const reaped = (pid: string) => Effect.sync(() => !fs.existsSync(`/proc/${pid}`))

/** An endless statement that returns no row until it is stopped. */
const endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"

const fileBytes = () => fs.readFileSync(folder.file)

describe("sql_query on SQLite: results", () => {
  it.live("selects with bound parameters and returns columns, rows, rowCount and durationMs", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const result = yield* sqlOk({ database: "app", query: "SELECT id, name FROM people WHERE age > ? ORDER BY id", params: [40] })
      assert.deepStrictEqual(result.columns, ["id", "name"])
      assert.deepStrictEqual(result.rows, [[2, "Grace"], [4, "Barbara"], [5, "Ken"]])
      assert.strictEqual(result.rowCount, 3)
      assert.strictEqual(result.truncated, false)
      assert.strictEqual(result.database, "app")
      assert.isTrue(Number.isInteger(result.durationMs) && result.durationMs >= 0)
    })))

  it.live("binds parameters: SQL in a parameter is data, never SQL", () =>
    withDatabases([writableDb], Effect.gen(function*() {
      const injection = "x' OR '1'='1"
      const matched = yield* sqlOk({ database: "rw", query: "SELECT count(*) AS n FROM people WHERE name = ?", params: [injection] })
      assert.deepStrictEqual(matched.rows, [[0]])
      const echoed = yield* sqlOk({ database: "rw", query: "SELECT ? AS text", params: [injection] })
      assert.deepStrictEqual(echoed.rows, [[injection]])
      const bobby = "Robert'); DROP TABLE people; --"
      const inserted = yield* sqlOk({ database: "rw", query: "INSERT INTO people (name, age) VALUES (?, ?)", params: [bobby, 10] })
      assert.strictEqual(inserted.rowCount, 1)
      assert.deepStrictEqual(readRows(folder.file, "SELECT name FROM people WHERE age = 10"), [{ name: bobby }])
      assert.strictEqual(readRows(folder.file, "SELECT count(*) AS n FROM people")[0]!["n"], people.length + 1)
    })))

  it.live("returns JSON-safe values: booleans as 1/0, null, reals, big integers as text, blobs as base64", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const result = yield* sqlOk({
        database: "app",
        query: "SELECT ? AS yes, ? AS no, ? AS empty, ? AS real, 9007199254740993 AS big, x'DEADBEEF' AS blob, 'héllo' AS text",
        params: [true, false, null, 1.5]
      })
      assert.deepStrictEqual(result.columns, ["yes", "no", "empty", "real", "big", "blob", "text"])
      assert.deepStrictEqual(result.rows, [[1, 0, null, 1.5, "9007199254740993", Buffer.from([0xde, 0xad, 0xbe, 0xef]).toString("base64"), "héllo"]])
    })))

  it.live("keeps columns that share a name, since rows are arrays in column order", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const result = yield* sqlOk({ database: "app", query: "SELECT 1 AS a, 2 AS a" })
      assert.deepStrictEqual(result.columns, ["a", "a"])
      assert.deepStrictEqual(result.rows, [[1, 2]])
    })))

  it.live("an empty result still names its columns", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const result = yield* sqlOk({ database: "app", query: "SELECT id, name FROM people WHERE id < 0" })
      assert.deepStrictEqual(result.columns, ["id", "name"])
      assert.deepStrictEqual(result.rows, [])
      assert.strictEqual(result.rowCount, 0)
    })))

  it.live("caps rows at maxRows and says the result was truncated", () =>
    withDatabases([{ ...readOnlyDb, maxRows: 2 }, { name: "exact", url: "sqlite:app.db", maxRows: people.length }], Effect.gen(function*() {
      const capped = yield* sqlOk({ database: "app", query: "SELECT id FROM people ORDER BY id" })
      assert.deepStrictEqual(capped.rows, [[1], [2]])
      assert.strictEqual(capped.rowCount, 2)
      assert.strictEqual(capped.truncated, true)
      const exact = yield* sqlOk({ database: "exact", query: "SELECT id FROM people ORDER BY id" })
      assert.strictEqual(exact.rows.length, people.length)
      assert.strictEqual(exact.truncated, false)
    })))

  it.live("stops reading at the cap: an endless result still answers", () =>
    withDatabases([{ ...readOnlyDb, maxRows: 3 }], Effect.gen(function*() {
      const result = yield* sqlOk({ database: "app", query: "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c" })
      assert.deepStrictEqual(result.rows, [[1], [2], [3]])
      assert.strictEqual(result.truncated, true)
    })))

  it.live("a relative path is resolved against the working directory; an absolute one is used as is", () =>
    Effect.gen(function*() {
      fs.mkdirSync(path.join(folder.root, "data"))
      fs.copyFileSync(folder.file, path.join(folder.root, "data", "copy.db"))
      yield* withDatabases([{ name: "nested", url: "sqlite:data/copy.db" }, { name: "absolute", url: `sqlite:${folder.file}` }], Effect.gen(function*() {
        assert.deepStrictEqual((yield* sqlOk({ database: "nested", query: "SELECT count(*) FROM people" })).rows, [[people.length]])
        assert.deepStrictEqual((yield* sqlOk({ database: "absolute", query: "SELECT count(*) FROM people" })).rows, [[people.length]])
      }))
    }))

  it.live("serves concurrent calls on one database", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const results = yield* Effect.forEach(
        people,
        ([id]) => sqlOk({ database: "app", query: "SELECT name FROM people WHERE id = ?", params: [id] }),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results.map((r) => r.rows), people.map(([, name]) => [[name]]))
    })))
})

describe("sql_query on SQLite: writes", () => {
  it.live("a read-only database refuses INSERT, UPDATE, CREATE and DROP, and its file is unchanged", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const before = fileBytes()
      for (const query of ["INSERT INTO people (name) VALUES ('Eve')", "UPDATE people SET age = 0", "CREATE TABLE evil (x)", "DROP TABLE people"]) {
        yield* sqlFails({ database: "app", query }, `Database "app" is read-only`, "readonly database")
      }
      assert.deepStrictEqual(fileBytes(), before)
    })))

  it.live("ATTACH and VACUUM INTO, which reach other files, are refused and create nothing", () =>
    withDatabases([readOnlyDb, writableDb], Effect.gen(function*() {
      for (const database of ["app", "rw"]) {
        const copy = path.join(folder.root, `${database}-copy.db`)
        yield* sqlFails({ database, query: `VACUUM INTO '${copy}'` }, "ATTACH and VACUUM INTO are refused")
        yield* sqlFails({ database, query: `ATTACH '${copy}' AS other` }, "ATTACH and VACUUM INTO are refused")
        assert.isFalse(fs.existsSync(copy), `${copy} was created`)
      }
    })))

  it.live("a writable database accepts INSERT (with RETURNING) and CREATE, and the file holds them", () =>
    withDatabases([writableDb], Effect.gen(function*() {
      const inserted = yield* sqlOk({ database: "rw", query: "INSERT INTO people (name, age) VALUES (?, ?)", params: ["Eve", 30] })
      assert.deepStrictEqual(inserted.columns, [])
      assert.strictEqual(inserted.rowCount, 1)
      const returned = yield* sqlOk({ database: "rw", query: "INSERT INTO people (name, age) VALUES (?, ?) RETURNING id, name", params: ["Mallory", 31] })
      assert.deepStrictEqual(returned.columns, ["id", "name"])
      assert.deepStrictEqual(returned.rows, [[people.length + 2, "Mallory"]])
      yield* sqlOk({ database: "rw", query: "CREATE TABLE notes (body TEXT)" })
      assert.deepStrictEqual(readRows(folder.file, "SELECT name FROM people WHERE age >= 30 AND age < 32 ORDER BY age"), [{ name: "Eve" }, { name: "Mallory" }])
      assert.deepStrictEqual(readRows(folder.file, "SELECT count(*) AS n FROM notes"), [{ n: 0 }])
    })))

  it.live("a writable database whose file is missing creates it", () =>
    withDatabases([{ name: "fresh", url: "sqlite:fresh.db", readOnly: false }], Effect.gen(function*() {
      yield* sqlOk({ database: "fresh", query: "CREATE TABLE t (x)" })
      assert.isTrue(fs.existsSync(path.join(folder.root, "fresh.db")))
    })))

  it.live("refuses a query holding more than one statement and runs none of it", () =>
    withDatabases([writableDb], Effect.gen(function*() {
      yield* sqlFails({ database: "rw", query: "INSERT INTO people (name) VALUES ('Eve'); DELETE FROM people" }, "more than one statement", "one statement per call")
      yield* sqlFails({ database: "rw", query: "SELECT 1; SELECT 2" }, "more than one statement")
      assert.strictEqual(readRows(folder.file, "SELECT count(*) AS n FROM people")[0]!["n"], people.length)
      // a trailing semicolon, blanks and comments are not a second statement
      assert.deepStrictEqual((yield* sqlOk({ database: "rw", query: "  SELECT 1 AS one; -- done\n /* really */ ;" })).rows, [[1]])
    })))

  it.live("a transaction cannot outlive its call: BEGIN is rolled back and reported", () =>
    withDatabases([writableDb], Effect.gen(function*() {
      yield* sqlFails({ database: "rw", query: "BEGIN" }, "left a transaction open", "rolled back")
      // the database is not left locked: another connection can write
      const db = new DatabaseSync(folder.file, { timeout: 0 })
      db.exec("INSERT INTO people (name) VALUES ('Outside')")
      db.close()
      assert.strictEqual((yield* sqlOk({ database: "rw", query: "SELECT count(*) FROM people" })).rows[0]![0], people.length + 1)
    })))
})

describe("sql_query on SQLite: failures", () => {
  it.live("a SQL error is an isError result with SQLite's message", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      yield* sqlFails({ database: "app", query: "SELEC name FROM people" }, `Database "app"`, `near "SELEC": syntax error`)
      yield* sqlFails({ database: "app", query: "SELECT * FROM nowhere" }, "no such table: nowhere")
    })))

  it.live("an unknown database is refused with the configured names", () =>
    withDatabases([readOnlyDb, writableDb], Effect.gen(function*() {
      yield* sqlFails({ database: "nope", query: "SELECT 1" }, `Unknown database "nope"`, `"app", "rw"`)
    })))

  it.live("a read-only database whose file is missing fails naming the path and creates nothing", () =>
    withDatabases([{ name: "gone", url: "sqlite:missing/gone.db" }], Effect.gen(function*() {
      const missing = path.join(folder.root, "missing", "gone.db")
      yield* sqlFails({ database: "gone", query: "SELECT 1" }, `Database "gone"`, missing, "does not exist")
      assert.isFalse(fs.existsSync(missing))
    })))

  it.live("a url of another kind is refused naming the kinds it may be", () =>
    withDatabases([{ name: "my", url: "mysql://localhost/db" }], Effect.gen(function*() {
      yield* sqlFails({ database: "my", query: "SELECT 1" }, "sqlite:, postgres:// or postgresql://")
    })))

  it.live("arguments of the wrong type are refused by the Schema", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      yield* sqlInvalid({ database: "app", query: "SELECT ?", params: [{ a: 1 }] }, "params")
      yield* sqlInvalid({ database: "app", query: "SELECT ?", params: [[1]] }, "params")
      yield* sqlInvalid({ database: "app", query: "SELECT ?", params: "1" }, "params")
      yield* sqlInvalid({ database: "app", query: "" }, "query")
      yield* sqlInvalid({ database: 1, query: "SELECT 1" }, "database")
      yield* sqlInvalid({ query: "SELECT 1" }, "database")
      yield* sqlInvalid({ database: "app", query: "SELECT 1", limit: 5 }, "limit")
    })))
})

describe("sql_query on SQLite: timeouts and processes", () => {
  it.live("a statement running past the database's timeout is stopped, and the next call works", () =>
    withDatabases([{ ...readOnlyDb, timeout: 300 }], Effect.gen(function*() {
      yield* sqlFails({ database: "app", query: endless }, "ran longer than its timeout of 300 ms", "stopped")
      // the stopped process is gone, not left spinning
      yield* eventually(workerPids(folder.file), (pids) => pids.length <= 1)
      assert.deepStrictEqual((yield* sqlOk({ database: "app", query: "SELECT count(*) FROM people" })).rows, [[people.length]])
      assert.strictEqual((yield* workerPids(folder.file)).length, 1)
    })))

  it.live("an interrupted call (the router's tools.timeout) kills its process", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      yield* sqlOk({ database: "app", query: "SELECT 1" })
      const [first] = yield* workerPids(folder.file)
      assert.isDefined(first)
      yield* sqlFails({ database: "app", query: endless }, "timed out after 500 ms")
      yield* eventually(reaped(first!), (gone) => gone)
      yield* sqlOk({ database: "app", query: "SELECT 1" })
    }), { timeout: 500 }))

  it.live("a process that died between calls is replaced by the next call", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      yield* sqlOk({ database: "app", query: "SELECT 1" })
      const [first] = yield* workerPids(folder.file)
      process.kill(Number(first), "SIGKILL")
      yield* eventually(reaped(first!), (gone) => gone)
      assert.deepStrictEqual((yield* sqlOk({ database: "app", query: "SELECT count(*) FROM people" })).rows, [[people.length]])
    })))

  it.live("opens nothing until the first call, and closing the layer ends the process", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(sqlLayer(folder.root, { databases: [readOnlyDb] }), scope)
      assert.deepStrictEqual(yield* workerPids(folder.file), [])
      yield* sqlOk({ database: "app", query: "SELECT 1" }).pipe(Effect.provide(context))
      assert.strictEqual((yield* workerPids(folder.file)).length, 1)
      yield* Scope.close(scope, Exit.void)
      yield* eventually(workerPids(folder.file), (pids) => pids.length === 0)
    }))
})

describe("sql_query offering", () => {
  const listed = Router.use((router) => Effect.succeed(router.list(caller)))

  it.live("is offered with the configured databases in its description and truthful annotations", () =>
    withDatabases([readOnlyDb], Effect.gen(function*() {
      const tool = (yield* listed).find((t) => t.name === "sql_query")
      assert.isDefined(tool)
      assert.include(tool!.description, "app (sqlite, read-only)")
      assert.deepInclude(tool!.annotations, { readOnlyHint: true, destructiveHint: false, openWorldHint: false })
      assert.deepStrictEqual((tool!.inputJsonSchema as any).required, ["database", "query"])
    })))

  it.live("a writable database makes it destructive", () =>
    withDatabases([readOnlyDb, writableDb], Effect.gen(function*() {
      const tool = (yield* listed).find((t) => t.name === "sql_query")
      assert.deepInclude(tool!.annotations, { readOnlyHint: false, destructiveHint: true })
      assert.include(tool!.description, "rw (sqlite, read-write)")
    })))

  it.live("is not offered without databases, nor with tools.enableReal false", () =>
    Effect.gen(function*() {
      const names = Effect.map(listed, (tools) => tools.map((t) => t.name))
      assert.notInclude(yield* withDatabases([], names), "sql_query")
      assert.notInclude(yield* withDatabases([readOnlyDb], names, { enableReal: false }), "sql_query")
      const unknown = yield* withDatabases([], sqlQuery({ database: "app", query: "SELECT 1" })).pipe(Effect.flip)
      assert.include(unknown.message, "sql_query")
    }))
})

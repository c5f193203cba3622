/**
 * Fixtures of the sql_query tests: a real SQLite file made with node:sqlite in a temporary working
 * folder, the Router with the built-in tools on a configuration naming the databases, and assertions.
 */
import { assert } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { AppConfig } from "../../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../../src/main.ts"
import { InvalidArguments } from "../../../src/router/RouterErrors.ts"
import type { ToolOutput } from "../../../src/tools/ToolDefinition.ts"
import { makeTempDir } from "../../support/server.ts"
import { callTool, structured, textOf } from "../fixtures.ts"

export { structured, textOf }

export const people = [
  [1, "Ada", 36],
  [2, "Grace", 45],
  [3, "Linus", 21],
  [4, "Barbara", 60],
  [5, "Ken", 52]
] as const

/** A temporary working folder holding `app.db`: a `people` table with the rows above. */
export const makeSqliteFolder = () => {
  const root = makeTempDir("mcp-sql-")
  const file = path.join(root, "app.db")
  const db = new DatabaseSync(file)
  db.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER)")
  const insert = db.prepare("INSERT INTO people (id, name, age) VALUES (?, ?, ?)")
  for (const row of people) insert.run(...row)
  db.close()
  return { root, file, cleanup: () => fs.rmSync(root, { recursive: true, force: true }) }
}

/** Reads a SQLite file directly, outside the router. */
export const readRows = (file: string, sql: string) => {
  const db = new DatabaseSync(file, { readOnly: true })
  try {
    return db.prepare(sql).all().map((row) => ({ ...row }))
  } finally {
    db.close()
  }
}

/** The Router with the built-in tools (sql_query among them), on `tools` (its workingDir set to `root`). */
export const sqlLayer = (root: string, tools: Record<string, unknown>) =>
  RouterCoreLayer.pipe(
    Layer.provideMerge(AppConfig.layerFromInput({ tools: { ...tools, workingDir: root }, logging: { enableConsole: false } }))
  )

export const sqlQuery = (args: unknown) => callTool("sql_query", args)

/** Expects a successful result and returns its structured content. */
export const sqlOk = (args: unknown) =>
  Effect.gen(function*() {
    const output = yield* sqlQuery(args)
    assert.notStrictEqual(output.isError, true, `expected success, got ${textOf(output)}`)
    assert.deepStrictEqual(JSON.parse(textOf(output)), structured(output), "the text is the structured result")
    return structured(output)
  })

/** Expects an isError result whose text contains every part; returns the text. */
export const sqlFails = (args: unknown, ...parts: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const output: ToolOutput = yield* sqlQuery(args)
    assert.isTrue(output.isError, `expected isError, got ${textOf(output)}`)
    for (const part of parts) assert.include(textOf(output), part)
    return textOf(output)
  })

/** Expects the Schema to refuse the arguments, naming `field`. */
export const sqlInvalid = (args: unknown, field: string) =>
  Effect.gen(function*() {
    const error = yield* Effect.flip(sqlQuery(args))
    assert.instanceOf(error, InvalidArguments)
    if (error instanceof InvalidArguments) {
      assert.strictEqual(error.tool, "sql_query")
      assert.isTrue(error.problems.some((p) => p.path === field || p.path.startsWith(`${field}.`)), error.message)
    }
  })

/** Polls `check` until it holds, at most `attempts` times 100 ms apart; fails with the last value. */
export const eventually = <A>(probe: Effect.Effect<A, unknown>, check: (value: A) => boolean, attempts = 50) =>
  Effect.gen(function*() {
    let value = yield* probe
    for (let attempt = 1; attempt < attempts && !check(value); attempt++) {
      yield* Effect.sleep("100 millis")
      value = yield* probe
    }
    assert.isTrue(check(value), `condition not reached; last value ${JSON.stringify(value)}`)
    return value
  })

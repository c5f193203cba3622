/**
 * A SQLite database served by a child process running sqliteWorker.ts, started on first use. A statement
 * that outlives the database's timeout, or whose call is interrupted, is stopped by killing that process
 * (node:sqlite cannot interrupt a statement, and a worker thread cannot be stopped while SQLite runs);
 * the next call starts a fresh one. Read-only databases are opened read-only by SQLite itself.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { type ChildProcess, fork } from "node:child_process"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"
import { ToolFailure } from "../ToolDefinition.ts"
import type { DatabaseSettings, QueryRequest, QueryResult, SqlDatabase } from "./SqlDatabase.ts"
import type { WorkerReply, WorkerRequest } from "./sqliteWorker.ts"

// the worker beside this module: sqliteWorker.ts run from src/, sqliteWorker.js from the compiled dist/
const workerPath = fileURLToPath(new URL(`./sqliteWorker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url))
/** Starting Node and opening the file; not part of a statement's timeout. */
const startTimeout = Duration.seconds(10)
/** How long a worker may take to close its database before it is killed. */
const closeTimeout = Duration.seconds(2)
/** The tail of the worker's stderr kept to explain an unexpected exit. */
const stderrTailBytes = 2000

export interface SqliteSettings extends DatabaseSettings {
  /** Absolute path of the database file. */
  readonly file: string
}

interface Worker {
  readonly process: ChildProcess
  /** The end of what the worker wrote to stderr. */
  readonly stderr: () => string
}

/**
 * Sends `request` (if any) and waits for the worker's next message; the worker exiting or failing
 * first is a failure naming how it ended.
 */
const exchange = (worker: Worker, request: WorkerRequest | undefined, what: string) =>
  Effect.callback<WorkerReply, ToolFailure>((resume) => {
    const fail = (how: string) => {
      const stderr = worker.stderr().trim()
      resume(Effect.fail(new ToolFailure({ message: `${what}: the SQLite process ${how}${stderr === "" ? "" : `: ${stderr}`}` })))
    }
    const onMessage = (message: WorkerReply) => resume(Effect.succeed(message))
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`ended (${signal ?? `exit code ${code}`})`)
    const onError = (error: Error) => fail(`failed: ${error.message}`)
    worker.process.once("message", onMessage)
    worker.process.once("exit", onExit)
    worker.process.once("error", onError)
    // with a callback, a closed channel is reported here rather than as an "error" event
    if (request !== undefined) worker.process.send(request, (error) => error === null ? undefined : onError(error))
    return Effect.sync(() => {
      worker.process.off("message", onMessage)
      worker.process.off("exit", onExit)
      worker.process.off("error", onError)
    })
  })

const isRunning = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

const kill = (worker: Worker) => Effect.sync(() => worker.process.kill("SIGKILL"))

/** Closes the channel so the worker closes its database and exits; kills it if it does not. */
const close = (worker: Worker) =>
  Effect.callback<void>((resume) => {
    if (!isRunning(worker.process)) return resume(Effect.void)
    worker.process.once("exit", () => resume(Effect.void))
    worker.process.disconnect()
  }).pipe(Effect.timeoutOrElse({ duration: closeTimeout, orElse: () => kill(worker) }))

export const makeSqliteDatabase = (settings: SqliteSettings) =>
  Effect.gen(function*() {
    const label = `Database "${settings.name}"`
    // one statement at a time: the worker answers in order, and a kill must only stop the late one
    const lock = yield* Semaphore.make(1)
    let current: Worker | undefined
    yield* Effect.addFinalizer(() => current === undefined ? Effect.void : close(current))

    /** Stops a worker and forgets it, so the next call starts another. */
    const retire = (worker: Worker) => {
      worker.process.kill("SIGKILL")
      if (current === worker) current = undefined
    }

    const start = Effect.gen(function*() {
      if (settings.readOnly && !fs.existsSync(settings.file)) {
        return yield* new ToolFailure({
          message: `${label}: the SQLite file ${settings.file} does not exist (a read-only database is never created)`
        })
      }
      let stderr = ""
      const child = fork(workerPath, [settings.file, settings.readOnly ? "read-only" : "read-write", String(settings.timeout)], {
        // the router's own Node flags (a test runner's loaders, --inspect) are not the worker's
        execArgv: [],
        stdio: ["ignore", "ignore", "pipe", "ipc"]
      })
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-stderrTailBytes)
      })
      // an "error" event nobody listens to would crash the router; a waiting call hears it in exchange
      child.on("error", () => undefined)
      const worker: Worker = { process: child, stderr: () => stderr }
      // a worker that dies between calls (killed, out of memory) is replaced by the next call
      child.once("exit", () => retire(worker))
      const first = yield* exchange(worker, undefined, `${label}: cannot open ${settings.file}`).pipe(
        Effect.timeoutOrElse({
          duration: startTimeout,
          orElse: () => Effect.fail(new ToolFailure({ message: `${label}: the SQLite process did not start within ${Duration.format(startTimeout)}` }))
        }),
        Effect.onError(() => kill(worker))
      )
      if (first.type === "error") return yield* new ToolFailure({ message: `${label}: cannot open ${settings.file}: ${first.message}` })
      current = worker
      return worker
    })

    const ask = (worker: Worker, request: WorkerRequest) =>
      exchange(worker, request, label).pipe(
        Effect.timeoutOrElse({
          duration: settings.timeout,
          orElse: () =>
            Effect.fail(new ToolFailure({
              message: `${label}: the query ran longer than its timeout of ${settings.timeout} ms and was stopped`
            }))
        }),
        // a timeout or an interruption leaves the worker busy: killed, it is replaced by the next call
        Effect.onError(() => Effect.sync(() => retire(worker)))
      )

    const query = ({ sql, params }: QueryRequest) =>
      lock.withPermit(Effect.gen(function*() {
        const worker = current ?? (yield* start)
        const reply = yield* ask(worker, { sql, params, maxRows: settings.maxRows })
        switch (reply.type) {
          case "result":
            return { columns: reply.columns, rows: reply.rows, rowCount: reply.rowCount, truncated: reply.truncated } satisfies QueryResult
          case "error":
            return yield* new ToolFailure({ message: failureMessage(label, reply) })
          case "ready":
            return yield* new ToolFailure({ message: `${label}: the SQLite process answered out of turn` })
        }
      }))

    return { query } satisfies SqlDatabase
  })

const failureMessage = (label: string, reply: Extract<WorkerReply, { type: "error" }>) => {
  switch (reply.failure) {
    case "read-only":
      return `${label} is read-only (readOnly: true): ${reply.message}`
    case "refused":
      return `${label}: ${reply.message}: ATTACH and VACUUM INTO are refused, sql_query only reaches the configured file`
    case "multiple-statements":
      return `${label}: ${reply.message}; send one statement per call`
    case "transaction-left-open":
      return `${label}: ${reply.message}; every call runs in its own transaction, so a transaction (BEGIN, SAVEPOINT) cannot span calls`
    case "open":
    case "sql":
      return `${label}: ${reply.message}`
  }
}

/**
 * The audit trail: every admin action and every tool call, in the database, hash-chained (each entry
 * stores the hash of the one before) and numbered (`seq`, inside the hashed content), so `verify` finds
 * an edited, a reordered and a deleted entry.
 *
 * Group commit: entries are queued and one fiber writes everything queued in one transaction (a
 * prepared statement reused, the last sequence number and hash kept in memory and the chain continued
 * from them), then releases every caller waiting on that batch. A tool call goes through `audited`:
 * its result is returned only once its entry is committed (WAL, synchronous=FULL: on disk), so an
 * acknowledged call is never missing, even after a SIGKILL.
 *
 * When a batch cannot be written (disk full, read-only file, database locked) the store is *failing*:
 * its callers get `AuditUnavailable` instead of their results, every further audited call is refused
 * before it runs, `problem()` tells readiness why, and the entries are kept (bounded: calls are refused
 * meanwhile) and written again every `probeIntervalMs` until a write succeeds; then service resumes.
 * Entries written that late carry `details.auditDelayed: true` (their caller was told the call failed).
 *
 * Several routers on one PostgreSQL store (replicas) write one chain, not one each: every batch
 * transaction first takes a transaction-scoped advisory lock (`pg_advisory_xact_lock`), then reads the
 * chain's last entry, so batches of different replicas follow one another and `verify` checks a single
 * sequence. The lock is held for one batch's inserts (one statement), so group commit keeps its gain.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { AppConfig } from "../config/AppConfig.ts"
import { auditStoreFailing, auditWriteFailures } from "../observability/instruments.ts"
import { createHash } from "node:crypto"

export interface AuditEvent {
  /** Key id, "anonymous" or "local" (stdio, command line). */
  readonly actor: string
  /** tool.call, config.update, config.rollback, key.create, key.revoke, ... */
  readonly action: string
  readonly target: string
  readonly outcome: "ok" | "error" | "denied"
  readonly durationMs?: number
  readonly details?: Record<string, unknown>
}

export interface AuditEntry extends AuditEvent {
  readonly id: number
  readonly at: string
  readonly hash: string
}

export interface AuditQuery {
  readonly actor?: string | undefined
  readonly action?: string | undefined
  readonly target?: string | undefined
  readonly outcome?: string | undefined
  readonly since?: string | undefined
  readonly until?: string | undefined
  readonly limit: number
  readonly offset: number
}

export interface Verification {
  readonly ok: boolean
  readonly checked: number
  readonly problem?: string
}

/**
 * The audit store cannot take this call's entry: it is failing (the reason says why) or its queue is
 * full. Nothing ran unaudited: a call refused with this did not run, and a call whose entry failed
 * after it ran gets this instead of its result (its entry is written once the store works again).
 */
export class AuditUnavailable extends Schema.TaggedError<AuditUnavailable>()("AuditUnavailable", {
  reason: Schema.String,
  retryAfterSeconds: Schema.Number
}) {
  override get message(): string {
    return `Audit store unavailable: ${this.reason}. Tool calls are refused until their audit entries can be written; retry later`
  }
}

export interface AuditSinkService {
  /** Queues an entry without waiting (admin actions); written with the next batch. */
  readonly record: (event: AuditEvent) => void
  /**
   * Runs `effect` as an audited call: refused at once with AuditUnavailable when the store is failing
   * or its queue is full; otherwise its outcome is returned only once the entry `entry(exit)` is
   * committed, or AuditUnavailable when it cannot be. An interrupted call's entry is still written.
   */
  readonly audited: <A, E, R>(
    effect: Effect.Effect<A, E, R>,
    entry: (exit: Exit.Exit<A, E>) => AuditEvent
  ) => Effect.Effect<A, E | AuditUnavailable, R>
  /** Why the store cannot write now, for readiness; undefined when it can. */
  readonly problem: () => string | undefined
}

/** Where the call path sends its audit events; discarding (and never refusing) unless a store is provided. */
export class AuditSink extends Context.Reference<AuditSinkService>("mcp-router/security/AuditSink", {
  defaultValue: () => ({ record: () => {}, audited: (effect) => effect, problem: () => undefined })
}) {}

export class AuditError extends Schema.TaggedError<AuditError>()("AuditError", { message: Schema.String }) {}

// ---------------------------------------------------------------------------------------------------
// Serialisation that never throws

/** Values visited at most by one serialisation (objects, arrays and primitives alike). */
export const maxSerialisedNodes = 1_000_000

/**
 * Writes `value` as JSON to `write`, exactly as `JSON.stringify` would for plain data (toJSON, key
 * order, skipped undefined and functions, null for non-finite numbers), but without recursion (any
 * depth) and without ever throwing: a cycle is written as "[Circular]", a BigInt as its decimal
 * string, and past `maxNodes` values the rest is "[Truncated]". Returns whether it was complete;
 * a getter or proxy trap that throws ends it with false as well.
 */
export const writeJson = (value: unknown, write: (chunk: string) => void, maxNodes: number = maxSerialisedNodes): boolean => {
  // one frame per open array or object: its keys (undefined for an array) and the next position
  const values: Array<any> = []
  const keyLists: Array<ReadonlyArray<string> | undefined> = []
  const positions: Array<number> = []
  const wrote: Array<boolean> = []
  const open = new Set<object>()
  let nodes = 0
  let complete = true
  // written in large pieces: a call of `write` per token would cost more than the rest
  let out = ""
  const flush = () => {
    if (out.length >= 65_536) {
      write(out)
      out = ""
    }
  }

  /** What JSON.stringify would write for this member: toJSON applied, boxed primitives unboxed. */
  const prepare = (key: string | number, v: unknown): unknown => {
    if (typeof v === "object" && v !== null) {
      const toJSON = (v as { readonly toJSON?: unknown }).toJSON
      if (typeof toJSON === "function") v = toJSON.call(v, String(key))
      if (v instanceof Number || v instanceof String || v instanceof Boolean) v = v.valueOf()
    } else if (typeof v === "bigint") {
      const toJSON = (v as unknown as { readonly toJSON?: unknown }).toJSON
      if (typeof toJSON === "function") v = toJSON.call(v, String(key))
    }
    return v
  }
  const emit = (v: unknown) => {
    if (++nodes > maxNodes) {
      complete = false
      out += "\"[Truncated]\""
      return
    }
    switch (typeof v) {
      case "string":
        out += JSON.stringify(v)
        return
      case "number":
        out += Number.isFinite(v) ? String(v) : "null"
        return
      case "boolean":
        out += v ? "true" : "false"
        return
      case "bigint":
        out += `"${String(v)}"`
        return
      case "object": {
        if (v === null) {
          out += "null"
          return
        }
        if (open.has(v)) {
          out += "\"[Circular]\""
          return
        }
        open.add(v)
        values.push(v)
        positions.push(0)
        wrote.push(false)
        if (Array.isArray(v)) {
          out += "["
          keyLists.push(undefined)
        } else {
          out += "{"
          keyLists.push(Object.keys(v))
        }
        return
      }
      default:
        out += "null"
    }
  }
  const skipped = (v: unknown) => v === undefined || typeof v === "function" || typeof v === "symbol"

  try {
    const root = prepare("", value)
    emit(skipped(root) ? null : root)
    while (values.length > 0) {
      const top = values.length - 1
      const container = values[top]
      const keys = keyLists[top]
      const position = positions[top]!
      if (keys === undefined) {
        if (position >= container.length || nodes > maxNodes) {
          out += "]"
        } else {
          positions[top] = position + 1
          if (position > 0) out += ","
          const v = prepare(position, container[position])
          emit(skipped(v) ? null : v)
          flush()
          continue
        }
      } else {
        if (position < keys.length && nodes <= maxNodes) {
          positions[top] = position + 1
          const key = keys[position]!
          const v = prepare(key, container[key])
          if (skipped(v)) continue
          if (wrote[top]) out += ","
          wrote[top] = true
          out += JSON.stringify(key)
          out += ":"
          emit(v)
          flush()
          continue
        }
        out += "}"
      }
      open.delete(container)
      values.pop()
      keyLists.pop()
      positions.pop()
      wrote.pop()
    }
    write(out)
    return complete
  } catch {
    write(out)
    write("\"[Unserialisable]\"")
    return false
  }
}

/** `value` as JSON text, never throwing (see writeJson). */
export const safeJson = (value: unknown, maxNodes?: number): string => {
  const chunks: Array<string> = []
  writeJson(value, (chunk) => void chunks.push(chunk), maxNodes)
  return chunks.join("")
}

/** Longest argument name kept in an entry. */
const maxNameLength = 100

/**
 * What the audit trail keeps of a call's arguments: their names (the first 50, each at most 100
 * characters) and a digest: SHA-256 of their JSON (as JSON.stringify writes it, streamed, any depth),
 * first 16 hex digits. `argumentsTruncated` is set when the digest covers only the first
 * `maxSerialisedNodes` values (or the arguments could not be read). Never throws.
 */
export const summariseArguments = (args: unknown): {
  readonly argumentNames: ReadonlyArray<string>
  readonly argumentsDigest: string
  readonly argumentsTruncated?: true
} => {
  let names: Array<string> = []
  try {
    if (args !== null && typeof args === "object") {
      names = Object.keys(args).slice(0, 50).map((name) => (name.length > maxNameLength ? `${name.slice(0, maxNameLength)}…` : name))
    }
  } catch {
    names = []
  }
  const hash = createHash("sha256")
  const complete = writeJson(args ?? null, (chunk) => void hash.update(chunk))
  return { argumentNames: names, argumentsDigest: hash.digest("hex").slice(0, 16), ...(complete ? {} : { argumentsTruncated: true as const }) }
}

// ---------------------------------------------------------------------------------------------------
// The store

interface Row {
  readonly id: number
  readonly seq: number | null
  readonly at: string
  readonly actor: string
  readonly action: string
  readonly target: string
  readonly outcome: string
  readonly duration_ms: number | null
  readonly details: string
  readonly prev_hash: string
  readonly hash: string
}

type Content = Pick<Row, "at" | "actor" | "action" | "target" | "outcome" | "duration_ms" | "details">

const genesis = "0".repeat(64)

/** Entries written before migration 0004 (seq NULL): the hash of their content without a number. */
const legacyHash = (prev: string, row: Content) =>
  createHash("sha256")
    .update(prev)
    .update(JSON.stringify([row.at, row.actor, row.action, row.target, row.outcome, row.duration_ms, row.details]))
    .digest("hex")

/** Every later entry: its sequence number is part of what is hashed. */
const entryHash = (prev: string, seq: number, row: Content) =>
  createHash("sha256")
    .update(prev)
    .update(JSON.stringify([seq, row.at, row.actor, row.action, row.target, row.outcome, row.duration_ms, row.details]))
    .digest("hex")

const toEntry = (row: Row): AuditEntry => ({
  id: row.id,
  at: row.at,
  actor: row.actor,
  action: row.action,
  target: row.target,
  outcome: row.outcome as AuditEntry["outcome"],
  ...(row.duration_ms === null ? {} : { durationMs: row.duration_ms }),
  details: JSON.parse(row.details) as Record<string, unknown>,
  hash: row.hash
})

const insertSql =
  "INSERT INTO audit_log (id, seq, at, actor, action, target, outcome, duration_ms, details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"

/** The advisory lock key that serialises appends to the chain on PostgreSQL (any constant all routers agree on). */
export const auditChainLockKey = 7_236_284_521_906_513

/** An entry waiting for its batch: its content is fixed when it is recorded (time included). */
interface Pending {
  content: Content
  /** A caller waits for it (and holds a place in the queue). */
  readonly awaited: boolean
  settled: boolean
  readonly done: (failure: AuditUnavailable | undefined) => void
}

/** Asks for a call after everything queued before it has been tried. */
interface Marker {
  readonly flushed: () => void
}

export interface AuditOptions {
  /** Audited calls between admission and their entry's commit (running or waiting); past it, refused. Default 4096. */
  readonly maxPending?: number
  /** Entries per transaction at most. Default 512. */
  readonly maxBatch?: number
  /** How often a failing store is tried again. Default 2000 ms. */
  readonly probeIntervalMs?: number
}

export const auditDefaults = { maxPending: 4096, maxBatch: 512, probeIntervalMs: 2000 } as const

/** A short reason for a failed write, naming the condition and never a value (readiness is public). */
const describeFailure = (cause: Cause.Cause<unknown>): string => {
  const error = Cause.squash(cause) as { readonly message?: unknown; readonly reason?: { readonly message?: unknown; readonly cause?: unknown } }
  const text = [error?.message, error?.reason?.message, (error?.reason?.cause as Error | undefined)?.message, String(error)]
    .filter((part) => typeof part === "string")
    .join(" ")
    .toLowerCase()
  if (/full|sqlite_full|enospc/.test(text)) return "the disk holding the database is full"
  if (/readonly|read-only|sqlite_readonly|erofs|eacces|permission/.test(text)) return "the database is read-only"
  if (/locked|busy/.test(text)) return "the database is locked by another process"
  if (/i\/o|ioerr|eio/.test(text)) return "the database had a disk I/O error"
  if (/unable to open|cantopen/.test(text)) return "the database file cannot be opened"
  if (/econnrefused|econnreset|etimedout|enotfound|ehostunreach|failed to connect|terminating connection|connection (terminated|ended|closed|lost)|socket/.test(text)) {
    return "the database server cannot be reached"
  }
  return "the database refused the write"
}

const chunks = <A>(items: ReadonlyArray<A>, size: number): Array<ReadonlyArray<A>> =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size))

const isConstraintFailure = (cause: Cause.Cause<unknown>) => /constraint|unique/i.test(String((Cause.squash(cause) as Error)?.message ?? ""))

export class AuditLog extends Context.Service<AuditLog, AuditSinkService & {
  /** Waits until every entry recorded so far has been written, or has failed to be. */
  readonly flush: Effect.Effect<void>
  readonly query: (query: AuditQuery) => Effect.Effect<{ readonly entries: ReadonlyArray<AuditEntry>; readonly total: number }, AuditError>
  readonly verify: Effect.Effect<Verification, AuditError>
  /** Removes entries older than `days`, keeping the chain verifiable from what remains. */
  readonly prune: (days: number) => Effect.Effect<number, AuditError>
}>()("mcp-router/security/AuditLog") {
  static readonly layerWith = (options: AuditOptions = {}) =>
    Layer.effect(
      AuditLog,
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const maxPending = options.maxPending ?? auditDefaults.maxPending
        const maxBatch = options.maxBatch ?? auditDefaults.maxBatch
        const probeIntervalMs = options.probeIntervalMs ?? auditDefaults.probeIntervalMs
        const retryAfterSeconds = Math.max(1, Math.ceil(probeIntervalMs / 1000))
        const failed = (e: unknown) => new AuditError({ message: `audit storage failed: ${String((e as Error)?.message ?? e)}` })
        const queue = yield* Queue.unbounded<Pending | Marker>()
        // the store's state as a metric: 0 from the start, so an alert rule always has a series
        yield* Metric.update(auditStoreFailing, 0)

        /** The last entry written: kept in memory, read from the database only at the first write and after a conflict. */
        let head: { readonly seq: number; readonly hash: string } | undefined
        /** Why the store is failing, while it is. */
        let failing: string | undefined
        /** Entries that failed to be written, tried again by the probe. */
        let retained: Array<Pending> = []
        /** Awaited entries admitted and not yet settled. */
        let pending = 0

        const unavailable = (reason: string) => new AuditUnavailable({ reason, retryAfterSeconds })
        const settle = (item: Pending, failure: AuditUnavailable | undefined) => {
          if (item.settled) return
          item.settled = true
          if (item.awaited) pending--
          item.done(failure)
        }
        /** The entry failed for its caller: it is written later, marked so. */
        const keep = (item: Pending, reason: string) => {
          if (item.awaited && !item.settled) {
            item.content = {
              ...item.content,
              details: item.content.details === "{}" ? "{\"auditDelayed\":true}" : `{"auditDelayed":true,${item.content.details.slice(1)}`
            }
          }
          settle(item, unavailable(reason))
          retained.push(item)
        }

        const readHead = Effect.gen(function*() {
          const rows = yield* sql<{ readonly id: number; readonly hash: string }>`SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1`
          if (rows[0] !== undefined) return { seq: rows[0].id, hash: rows[0].hash }
          const anchor = yield* sql<{ readonly pruned_through: number; readonly last_hash: string }>`SELECT pruned_through, last_hash FROM audit_anchor WHERE id = 1`
          return anchor[0] === undefined ? { seq: 0, hash: genesis } : { seq: anchor[0].pruned_through, hash: anchor[0].last_hash }
        })

        // the dialects' differences, each in one place: see the module comment on several writers
        /** PostgreSQL: other routers may append too; this batch waits for theirs and continues after them. */
        const lockChain = sql.onDialectOrElse({
          pg: () => Effect.asVoid(sql`SELECT pg_advisory_xact_lock(${auditChainLockKey})`),
          orElse: () => Effect.void
        })
        /** Whether the head kept in memory is the chain's: not when other routers append to it. */
        const headIsOurs = sql.onDialectOrElse({ pg: () => false, orElse: () => true })
        /** SQLite: one prepared statement per entry (cheap in process); PostgreSQL: one statement per batch (one round trip). */
        const insertEntries = (entries: ReadonlyArray<Row>) =>
          sql.onDialectOrElse({
            pg: () =>
              Effect.forEach(chunks(entries, 2000), ([first, ...rest]) =>
                sql`INSERT INTO audit_log ${sql.insert([{ ...first! }, ...rest.map((entry) => ({ ...entry }))])}`, { discard: true }),
            orElse: () =>
              Effect.forEach(entries, (e) =>
                sql.unsafe(insertSql, [e.id, e.seq, e.at, e.actor, e.action, e.target, e.outcome, e.duration_ms, e.details, e.prev_hash, e.hash]), { discard: true })
          })

        /** One transaction for the batch; the new head, applied by the caller only once committed. */
        const writeBatch = (items: ReadonlyArray<Pending>) =>
          Effect.gen(function*() {
            yield* lockChain
            let { seq, hash } = (headIsOurs ? head : undefined) ?? (yield* readHead)
            const entries: Array<Row> = []
            for (const item of items) {
              const row = item.content
              seq++
              const next = entryHash(hash, seq, row)
              entries.push({ id: seq, seq, ...row, prev_hash: hash, hash: next })
              hash = next
            }
            yield* insertEntries(entries)
            return { seq, hash }
          }).pipe(sql.withTransaction)

        /** Writes a batch and settles its entries; on failure the store is failing and the entries are kept. */
        const process = (batch: ReadonlyArray<Pending | Marker>) =>
          Effect.gen(function*() {
            const items = batch.filter((item): item is Pending => "content" in item)
            if (items.length > 0) {
              let exit = yield* Effect.exit(writeBatch(items))
              // another writer on the same file moved the chain on: start again from what is there
              if (Exit.isFailure(exit) && isConstraintFailure(exit.cause)) {
                head = undefined
                exit = yield* Effect.exit(writeBatch(items))
              }
              if (Exit.isSuccess(exit)) {
                head = exit.value
                if (failing !== undefined) {
                  yield* Effect.logInfo("The audit store works again: tool calls are accepted")
                  failing = undefined
                  yield* Metric.update(auditStoreFailing, 0)
                }
                for (const item of items) settle(item, undefined)
              } else {
                head = undefined
                const reason = describeFailure(exit.cause)
                if (failing === undefined) {
                  yield* Effect.logError(`Audit entries cannot be written (${reason}): tool calls are refused until they can`, exit.cause)
                }
                failing = reason
                yield* Metric.update(auditStoreFailing, 1)
                yield* Metric.update(auditWriteFailures, 1)
                for (const item of items) keep(item, reason)
                // what was queued behind the batch fails now, not after the next probe
                for (const item of yield* Queue.clear(queue)) {
                  if ("content" in item) keep(item, reason)
                  else item.flushed()
                }
              }
            }
            for (const item of batch) if (!("content" in item)) item.flushed()
          })

        const step = Effect.uninterruptibleMask((restore) =>
          Effect.gen(function*() {
            if (failing === undefined) {
              const batch = yield* restore(Queue.takeBetween(queue, 1, maxBatch))
              yield* process(batch)
            } else {
              yield* restore(Effect.sleep(probeIntervalMs))
              const batch = [...retained, ...(yield* Queue.clear(queue))]
              retained = []
              yield* process(batch)
            }
          })
        )
        const writer = yield* Effect.forkScoped(Effect.forever(step))
        // what is queued when the router stops is still written: the writer ends first, then one last batch
        yield* Effect.addFinalizer(() =>
          Effect.gen(function*() {
            yield* Fiber.interrupt(writer)
            const rest = [...retained, ...(yield* Queue.clear(queue))]
            retained = []
            yield* process(rest)
            const lost = retained.length
            if (lost > 0) yield* Effect.logError(`${lost} audit entries could not be written before the router stopped (${failing})`)
          })
        )

        const enqueue = (event: AuditEvent, awaited: boolean, done: Pending["done"]): Pending => {
          const item: Pending = {
            content: {
              at: new Date().toISOString(),
              actor: event.actor,
              action: event.action,
              target: event.target,
              outcome: event.outcome,
              duration_ms: event.durationMs === undefined || !Number.isFinite(event.durationMs) ? null : Math.round(event.durationMs * 100) / 100,
              details: safeJson(event.details ?? {})
            },
            awaited,
            settled: false,
            done
          }
          if (failing !== undefined) keep(item, failing)
          else Queue.offerUnsafe(queue, item)
          return item
        }

        const audited = <A, E, R>(effect: Effect.Effect<A, E, R>, entry: (exit: Exit.Exit<A, E>) => AuditEvent) =>
          Effect.uninterruptibleMask((restore) =>
            Effect.suspend((): Effect.Effect<A, E | AuditUnavailable, R> => {
              if (failing !== undefined) return Effect.fail(unavailable(failing))
              if (pending >= maxPending) {
                return Effect.fail(unavailable(`the audit queue is full (${maxPending} calls waiting for their entries)`))
              }
              pending++
              return Effect.flatMap(Effect.exit(restore(effect)), (exit) => {
                let event: AuditEvent
                try {
                  event = entry(exit)
                } catch {
                  event = { actor: "unknown", action: "tool.call", target: "unknown", outcome: "error", details: { auditEntryFailed: true } }
                }
                let outcome: AuditUnavailable | undefined | null = null
                let resume: ((failure: AuditUnavailable | undefined) => void) | undefined
                enqueue(event, true, (failure) => {
                  outcome = failure
                  resume?.(failure)
                })
                // an interrupted call is not waited for: its entry is written all the same
                if (Exit.isFailure(exit) && Cause.hasInterrupts(exit.cause)) return exit
                const committed = outcome !== null
                  ? Effect.succeed(outcome as AuditUnavailable | undefined)
                  : Effect.callback<AuditUnavailable | undefined>((resolve) => {
                    resume = (failure) => resolve(Effect.succeed(failure))
                  })
                return Effect.flatMap(
                  restore(committed),
                  (failure): Effect.Effect<A, E | AuditUnavailable> => (failure === undefined ? exit : Effect.fail(failure))
                )
              })
            })
          )

        const conditions = (q: AuditQuery) => {
          const parts = [
            q.actor === undefined ? undefined : sql`actor = ${q.actor}`,
            q.action === undefined ? undefined : sql`action = ${q.action}`,
            q.target === undefined ? undefined : sql`target = ${q.target}`,
            q.outcome === undefined ? undefined : sql`outcome = ${q.outcome}`,
            q.since === undefined ? undefined : sql`at >= ${q.since}`,
            q.until === undefined ? undefined : sql`at < ${q.until}`
          ].filter((p) => p !== undefined)
          return parts.length === 0 ? sql`1 = 1` : sql.and(parts)
        }

        return AuditLog.of({
          record: (event) => void enqueue(event, false, () => {}),
          audited,
          problem: () =>
            failing === undefined ? undefined : `audit: entries cannot be written (${failing}); tool calls are refused until they can`,
          // while the store fails, nothing queued can be written before the next probe: no reason to wait
          flush: Effect.suspend(() =>
            failing !== undefined
              ? Effect.void
              : Effect.callback<void>((resume) => {
                Queue.offerUnsafe(queue, { flushed: () => resume(Effect.void) })
              })
          ),
          query: (q) =>
            Effect.gen(function*() {
              const where = conditions(q)
              const rows = yield* sql<Row>`SELECT * FROM audit_log WHERE ${where} ORDER BY id DESC LIMIT ${q.limit} OFFSET ${q.offset}`
              const total = yield* sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM audit_log WHERE ${where}`
              return { entries: rows.map(toEntry), total: total[0]?.n ?? 0 }
            }).pipe(Effect.mapError(failed)),
          verify: Effect.gen(function*() {
            const anchor = yield* sql<{ readonly pruned_through: number; readonly last_hash: string }>`SELECT * FROM audit_anchor WHERE id = 1`
            let prev = anchor[0]?.last_hash ?? genesis
            let expected = (anchor[0]?.pruned_through ?? 0) + 1
            let numbered = false
            let checked = 0
            const problem = (text: string) => ({ ok: false, checked, problem: text })
            const rows = yield* sql<Row>`SELECT * FROM audit_log ORDER BY id`
            for (const row of rows) {
              if (row.id !== expected) return problem(`entry ${expected} is missing`)
              if (row.seq === null) {
                // written before entries were numbered: verified as it always was
                if (numbered) return problem(`entry ${row.id} was changed after it was written`)
                if (row.prev_hash !== prev) return problem(`entry ${row.id} does not follow entry ${row.id - 1}`)
                if (legacyHash(prev, row) !== row.hash) return problem(`entry ${row.id} was changed after it was written`)
              } else {
                numbered = true
                // renumbered ids closing a gap: the hashed number still shows it
                if (row.seq > expected) return problem(`entry ${expected} is missing`)
                if (row.seq !== expected) return problem(`entry ${row.id} was changed after it was written`)
                if (row.prev_hash !== prev) return problem(`entry ${row.id} does not follow entry ${row.id - 1}`)
                if (entryHash(prev, row.seq, row) !== row.hash) return problem(`entry ${row.id} was changed after it was written`)
              }
              prev = row.hash
              expected++
              checked++
            }
            return { ok: true, checked }
          }).pipe(Effect.mapError(failed)),
          prune: (days) =>
            Effect.gen(function*() {
              yield* lockChain
              const cutoff = new Date(Date.now() - days * 86_400_000).toISOString()
              const last = yield* sql<{ readonly id: number; readonly hash: string }>`SELECT id, hash FROM audit_log WHERE at < ${cutoff} ORDER BY id DESC LIMIT 1`
              if (last[0] === undefined) return 0
              const removed = yield* sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM audit_log WHERE id <= ${last[0].id}`
              yield* sql`DELETE FROM audit_log WHERE id <= ${last[0].id}`
              yield* sql`INSERT INTO audit_anchor (id, pruned_through, last_hash) VALUES (1, ${last[0].id}, ${last[0].hash})
                ON CONFLICT (id) DO UPDATE SET pruned_through = excluded.pruned_through, last_hash = excluded.last_hash`
              return removed[0]?.n ?? 0
            }).pipe(sql.withTransaction, Effect.mapError(failed))
        })
      })
    )

  static readonly layer = AuditLog.layerWith()

  /** The store, and the call path's sink writing to it. */
  static readonly layerWithSinkWith = (options: AuditOptions = {}) =>
    Layer.effectContext(
      Effect.gen(function*() {
        const log = yield* AuditLog
        return Context.make(AuditLog, log).pipe(
          Context.add(AuditSink, { record: log.record, audited: log.audited, problem: log.problem })
        )
      })
    ).pipe(Layer.provide(AuditLog.layerWith(options)))

  /** The store and sink, with the queue bound of storage.auditQueueSize. */
  static readonly layerWithSink = Layer.unwrap(
    AppConfig.use((config) => Effect.succeed(AuditLog.layerWithSinkWith({ maxPending: config.current().storage.auditQueueSize })))
  )
}

/** Applies security.auditRetentionDays at start and every day after. */
export const AuditRetention = Layer.effectDiscard(
  Effect.gen(function*() {
    const log = yield* AuditLog
    const config = yield* AppConfig
    const prune = Effect.suspend(() => log.prune(config.current().security.auditRetentionDays)).pipe(
      Effect.tap((removed) => (removed > 0 ? Effect.logInfo(`Removed ${removed} audit entries past security.auditRetentionDays`) : Effect.void)),
      Effect.catchTag("AuditError", (e) => Effect.logWarning(e.message))
    )
    yield* prune.pipe(Effect.andThen(Effect.sleep("24 hours")), Effect.forever, Effect.forkScoped)
  })
)

/**
 * The audit trail: every admin action and every tool call, in the database, hash-chained (each entry
 * stores the hash of the one before), so `verify` finds an edited or deleted entry. Entries are queued
 * and written in batches by one fiber: the call path only enqueues.
 */
import { Context, Effect, Layer, Queue, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { AppConfig } from "../config/AppConfig.ts"
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

/** Where the call path sends its audit events; discarding unless a store is provided. */
export class AuditSink extends Context.Reference<{ readonly record: (event: AuditEvent) => void }>(
  "mcp-router/security/AuditSink",
  { defaultValue: () => ({ record: () => {} }) }
) {}

export class AuditError extends Schema.TaggedError<AuditError>()("AuditError", { message: Schema.String }) {}

interface Row {
  readonly id: number
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

const genesis = "0".repeat(64)

const entryHash = (prev: string, row: Omit<Row, "id" | "prev_hash" | "hash">) =>
  createHash("sha256")
    .update(prev)
    .update(JSON.stringify([row.at, row.actor, row.action, row.target, row.outcome, row.duration_ms, row.details]))
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

export class AuditLog extends Context.Service<AuditLog, {
  readonly record: (event: AuditEvent) => void
  /** Waits until every event recorded so far is in the database. */
  readonly flush: Effect.Effect<void>
  readonly query: (query: AuditQuery) => Effect.Effect<{ readonly entries: ReadonlyArray<AuditEntry>; readonly total: number }, AuditError>
  readonly verify: Effect.Effect<Verification, AuditError>
  /** Removes entries older than `days`, keeping the chain verifiable from what remains. */
  readonly prune: (days: number) => Effect.Effect<number, AuditError>
}>()("mcp-router/security/AuditLog") {
  static readonly layer = Layer.effect(
    AuditLog,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const failed = (e: unknown) => new AuditError({ message: `audit storage failed: ${String((e as Error)?.message ?? e)}` })
      const queue = yield* Queue.unbounded<AuditEvent | { readonly flushed: () => void }>()

      const lastHash = Effect.gen(function*() {
        const rows = yield* sql<{ readonly hash: string }>`SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1`
        if (rows[0] !== undefined) return rows[0].hash
        const anchor = yield* sql<{ readonly last_hash: string }>`SELECT last_hash FROM audit_anchor WHERE id = 1`
        return anchor[0]?.last_hash ?? genesis
      })

      const write = (events: ReadonlyArray<AuditEvent>) =>
        Effect.gen(function*() {
          let prev = yield* lastHash
          for (const event of events) {
            const row = {
              at: new Date().toISOString(),
              actor: event.actor,
              action: event.action,
              target: event.target,
              outcome: event.outcome,
              duration_ms: event.durationMs === undefined ? null : Math.round(event.durationMs * 100) / 100,
              details: JSON.stringify(event.details ?? {})
            }
            const hash = entryHash(prev, row)
            yield* sql`INSERT INTO audit_log ${sql.insert({ ...row, prev_hash: prev, hash })}`
            prev = hash
          }
        }).pipe(sql.withTransaction)

      const writer = Effect.forever(
        Effect.gen(function*() {
          const batch = yield* Queue.takeBetween(queue, 1, 500)
          const events = batch.filter((item): item is AuditEvent => !("flushed" in item))
          if (events.length > 0) {
            yield* write(events).pipe(Effect.catchCause((cause) => Effect.logError("audit entries could not be written", cause)))
          }
          for (const item of batch) if ("flushed" in item) item.flushed()
        })
      )
      yield* Effect.forkScoped(writer)
      // what is queued when the router stops is still written
      yield* Effect.addFinalizer(() =>
        Queue.clear(queue).pipe(
          Effect.flatMap((rest) => write(rest.filter((item): item is AuditEvent => !("flushed" in item)))),
          Effect.ignore
        )
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
        record: (event) => Queue.offerUnsafe(queue, event),
        flush: Effect.callback<void>((resume) => {
          Queue.offerUnsafe(queue, { flushed: () => resume(Effect.void) })
        }),
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
          let expectedId = (anchor[0]?.pruned_through ?? 0) + 1
          const rows = yield* sql<Row>`SELECT * FROM audit_log ORDER BY id`
          let checked = 0
          for (const row of rows) {
            if (row.id !== expectedId) return { ok: false, checked, problem: `entry ${expectedId} is missing` }
            if (row.prev_hash !== prev) return { ok: false, checked, problem: `entry ${row.id} does not follow entry ${row.id - 1}` }
            if (entryHash(prev, row) !== row.hash) return { ok: false, checked, problem: `entry ${row.id} was changed after it was written` }
            prev = row.hash
            expectedId++
            checked++
          }
          return { ok: true, checked }
        }).pipe(Effect.mapError(failed)),
        prune: (days) =>
          Effect.gen(function*() {
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

  /** The store, and the call path's sink writing to it. */
  static readonly layerWithSink = Layer.effectContext(
    Effect.gen(function*() {
      const log = yield* AuditLog
      return Context.make(AuditLog, log).pipe(Context.add(AuditSink, { record: log.record }))
    })
  ).pipe(Layer.provide(AuditLog.layer))
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

/**
 * Whether the router can serve: the database answers `SELECT 1` promptly, the audit store can write
 * (while it cannot, tool calls are refused: a full disk or a read-only file still answers SELECT 1), the
 * configuration in force still validates (its working folder may have vanished since start), and every
 * required upstream is up.
 * The reasons name what failed,
 * never a value: /health/ready answers anonymous probes.
 * Redis (`redis.url`) is reported apart: losing it degrades the router (limits per replica, events
 * local) and never makes it unready, which would have a load balancer refuse all traffic.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as SqlClient from "effect/sql/SqlClient"
import { AppConfig } from "../config/AppConfig.ts"
import { SharedBus } from "../shared/SharedBus.ts"
import { AuditSink } from "../security/AuditLog.ts"
import { StorageInfo } from "../storage/Database.ts"
import { Upstreams } from "../upstreams/Upstreams.ts"

/** Longer than a healthy SQLite answer by far, shorter than a probe's usual timeout. */
const storageTimeoutMs = 1000
/** Redis answers a PING in well under a millisecond. */
const redisTimeoutMs = 500

/** The stores shared with other replicas, and what works in a reduced way now. */
export interface SharedReport {
  /** `{"redis": "connected" | "connecting" | "disconnected"}`; empty without redis.url. */
  readonly stores: Readonly<Record<string, string>>
  /** What works per replica only, and why: empty when nothing does. */
  readonly degraded: ReadonlyArray<string>
}

export class Readiness extends Context.Service<Readiness, {
  /** Why the router is not ready; empty when it is. */
  readonly problems: Effect.Effect<ReadonlyArray<string>>
  /** The shared stores and the degradations they cause; never a reason to be unready. */
  readonly shared: Effect.Effect<SharedReport>
}>()("mcp-router/observability/Readiness") {
  static readonly layer = Layer.effect(
    Readiness,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const config = yield* AppConfig
      // a shared store is named by its kind (never its address: this answers anonymous probes)
      const info = yield* StorageInfo
      const database = info.shared ? `the ${info.kind} store` : "the database"
      const storage = sql`SELECT 1`.pipe(
        Effect.as([] as Array<string>),
        Effect.catch(() => Effect.succeed([`storage: ${database} failed to answer SELECT 1`])),
        Effect.timeoutOrElse({
          duration: storageTimeoutMs,
          orElse: () => Effect.succeed([`storage: ${database} did not answer SELECT 1 within ${storageTimeoutMs} ms`])
        })
      )
      // a dry-run update of nothing validates the whole configuration in force again
      const configuration = config.update({}, { dryRun: true }).pipe(
        Effect.as([] as Array<string>),
        Effect.catch((error) => Effect.succeed(error.problems.map((problem) => `configuration: ${problem.split(", got ")[0]}`)))
      )
      // upstreams marked required: down means not ready (an optional one never holds the router back)
      const upstreamService = yield* Effect.serviceOption(Upstreams)
      const upstreams = Effect.sync(() => Option.match(upstreamService, { onNone: () => [], onSome: (u) => u.unready() }))
      // the audit writer knows when its last batch failed; its probe clears this when a write succeeds
      const sink = yield* AuditSink
      const audit = Effect.sync(() => {
        const problem = sink.problem()
        return problem === undefined ? [] : [problem]
      })
      const bus = Option.getOrUndefined(yield* Effect.serviceOption(SharedBus))
      const shared: Effect.Effect<SharedReport> = bus?.enabled !== true
        ? Effect.succeed({ stores: {}, degraded: [] })
        : Effect.gen(function*() {
          // the connection's state, checked by a round trip while it looks up
          const failed = bus.status() === "connected" ? yield* bus.ping(redisTimeoutMs) : bus.problem()
          const state = failed === undefined ? "connected" : bus.status() === "connecting" ? "connecting" : "disconnected"
          return {
            stores: { redis: state },
            degraded: failed === undefined
              ? []
              // the reason (an address, often) is in the log and the alert, not here: probes are anonymous
              : [`redis: ${state === "connecting" ? "not connected yet" : "cannot be reached"}: rate limits are counted per replica and events stay on this replica`]
          }
        })
      return Readiness.of({
        shared,
        problems: Effect.map(Effect.all([storage, audit, configuration, upstreams], { concurrency: "unbounded" }), (lists) => lists.flat())
      })
    })
  )
}

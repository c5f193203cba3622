/**
 * The router's live events, for the WebSocket hub and anything else that listens: tool executions,
 * alerts, metric samples and log entries. Publishing never blocks: a listener that falls behind loses
 * the oldest events, not the publisher's time.
 *
 * With Redis (`redis.url`), tool executions and alerts are shared: each is delivered here at once and
 * published on the bus, and those of the other replicas are delivered here as they arrive (a replica's
 * own, coming back from Redis, are skipped: every event is delivered once per replica). Metric samples
 * and log entries stay with the replica they describe. While Redis is unreachable, events stay local.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import { SharedBus } from "../shared/SharedBus.ts"

export type RouterEvent =
  | {
    readonly type: "tool_executed"
    readonly tool: string
    /** The name of the key that called; never arguments or results. */
    readonly keyName: string
    readonly transport: string
    readonly outcome: "ok" | "error" | "denied" | "invalid"
    readonly durationMs: number
    readonly at: string
  }
  | { readonly type: "alert"; readonly alert: unknown }
  | { readonly type: "metrics"; readonly sample: unknown }
  | { readonly type: "log"; readonly entry: unknown }

export class Events extends Context.Reference<{
  readonly publish: (event: RouterEvent) => void
  /** A subscription for the current scope; read it with PubSub.take / takeAll. */
  readonly subscribe: Effect.Effect<PubSub.Subscription<RouterEvent>, never, Scope.Scope>
}>("mcp-router/observability/Events", {
  // without the layer, events go nowhere: a router embedded without listeners pays nothing
  defaultValue: () => ({ publish: () => {}, subscribe: Effect.die("Events.layer is not provided") })
}) {
  static readonly layer = Layer.effect(
    Events,
    Effect.gen(function*() {
      const pubsub = yield* PubSub.sliding<RouterEvent>(4096)
      const local = (event: RouterEvent) => void PubSub.publishUnsafe(pubsub, event)
      const bus = Option.getOrUndefined(yield* Effect.serviceOption(SharedBus))
      if (bus?.enabled !== true) return { publish: local, subscribe: PubSub.subscribe(pubsub) }
      yield* bus.subscribe(eventsChannel, (message) => {
        const shared = decodeShared(message)
        if (shared !== undefined && shared.from !== bus.replicaId) local(shared.event)
      })
      return {
        publish: (event: RouterEvent) => {
          local(event)
          if (event.type === "tool_executed" || event.type === "alert") {
            bus.publishUnsafe(eventsChannel, JSON.stringify({ from: bus.replicaId, event }))
          }
        },
        subscribe: PubSub.subscribe(pubsub)
      }
    })
  )
}

/** The bus channel of shared events: `{"from": replicaId, "event": RouterEvent}`. */
export const eventsChannel = "events"

const outcomes = new Set(["ok", "error", "denied", "invalid"])

/** A shared event from another replica, rebuilt field by field; undefined for anything else. */
const decodeShared = (message: string): { readonly from: string; readonly event: RouterEvent } | undefined => {
  try {
    const { from, event } = JSON.parse(message) as { readonly from?: unknown; readonly event?: Record<string, unknown> }
    if (typeof from !== "string" || event === null || typeof event !== "object") return undefined
    if (event.type === "alert" && event.alert !== null && typeof event.alert === "object") return { from, event: { type: "alert", alert: event.alert } }
    const { tool, keyName, transport, outcome, durationMs, at } = event
    if (
      event.type === "tool_executed" && typeof tool === "string" && typeof keyName === "string" && typeof transport === "string" &&
      typeof outcome === "string" && outcomes.has(outcome) && typeof durationMs === "number" && typeof at === "string"
    ) {
      return { from, event: { type: "tool_executed", tool, keyName, transport, outcome: outcome as "ok", durationMs, at } }
    }
    return undefined
  } catch {
    return undefined
  }
}

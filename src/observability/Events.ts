/**
 * The router's live events, for the WebSocket hub and anything else that listens: tool executions,
 * alerts, metric samples and log entries. Publishing never blocks: a listener that falls behind loses
 * the oldest events, not the publisher's time.
 */
import { Context, Effect, Layer, PubSub, type Scope } from "effect"

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
      return {
        publish: (event: RouterEvent) => void PubSub.publishUnsafe(pubsub, event),
        subscribe: PubSub.subscribe(pubsub)
      }
    })
  )
}

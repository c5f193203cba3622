/**
 * The open WebSocket connections and their rooms. Events (tool executions, alerts, metric samples) and
 * log entries are fanned out to the connections in the matching room; each connection queues them on
 * its own, so a slow client never slows the others.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import { AppConfig } from "../config/AppConfig.ts"
import { LogBuffer } from "../logging/Logging.ts"
import { Events, type RouterEvent } from "../observability/Events.ts"
import { websocketConnections } from "../observability/instruments.ts"
import type { Room, ServerMessage } from "./protocol.ts"

export interface Connection {
  readonly id: string
  readonly rooms: Set<Room>
  /** Queues a message for this connection; never blocks. */
  readonly send: (message: ServerMessage) => void
  /** The key `keyId` was revoked in this process: a connection authenticated with it closes. */
  readonly keyRevoked: (keyId: string) => void
}

const roomOf = (event: RouterEvent): [Room, ServerMessage] | undefined => {
  switch (event.type) {
    case "tool_executed":
      return ["tool-executions", { type: "tool_execution", room: "tool-executions", event }]
    case "alert":
      return ["alerts", { type: "alert", alert: event.alert }]
    case "metrics":
      return ["metrics", { type: "metrics-update", sample: event.sample }]
    case "log":
      return ["logs", { type: "log", entry: event.entry }]
  }
}

export class WsHub extends Context.Service<WsHub, {
  /** Adds a connection for the current scope; false when websocket.maxConnections are open already. */
  readonly register: (connection: Connection) => Effect.Effect<boolean, never, Scope.Scope>
  readonly count: () => number
  /**
   * Closes the connections authenticated with `keyId` at once, for a revocation made over /ws; KeyWatch
   * closes them too, within its check interval, whoever revoked the key.
   */
  readonly keyRevoked: (keyId: string) => void
}>()("mcp-router/ws/WsHub") {
  static readonly layer = Layer.effect(
    WsHub,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const events = yield* Events
      const logs = yield* LogBuffer
      const connections = new Map<string, Connection>()
      const deliver = (room: Room, message: ServerMessage) => {
        for (const connection of connections.values()) if (connection.rooms.has(room)) connection.send(message)
      }

      const subscription = yield* events.subscribe
      yield* PubSub.takeAll(subscription).pipe(
        // one event at a time, yielding in between, so connection writers drain their queues during a burst
        Effect.flatMap((batch) =>
          Effect.forEach(batch, (event) => {
            const routed = roomOf(event)
            return routed === undefined ? Effect.void : Effect.sync(() => deliver(...routed)).pipe(Effect.andThen(Effect.yieldNow))
          }, { discard: true })),
        Effect.forever,
        Effect.forkScoped
      )
      const stopListening = logs.listen((entry) => deliver("logs", { type: "log", entry }))
      yield* Effect.addFinalizer(() => Effect.sync(stopListening))

      const gauge = () => Metric.update(websocketConnections, connections.size)
      return WsHub.of({
        register: (connection) =>
          Effect.suspend(() => {
            if (connections.size >= config.current().websocket.maxConnections) return Effect.succeed(false)
            connections.set(connection.id, connection)
            return gauge().pipe(
              Effect.andThen(Effect.addFinalizer(() => Effect.suspend(() => {
                connections.delete(connection.id)
                return gauge()
              }))),
              Effect.as(true)
            )
          }),
        count: () => connections.size,
        keyRevoked: (keyId) => {
          for (const connection of connections.values()) connection.keyRevoked(keyId)
        }
      })
    })
  )
}

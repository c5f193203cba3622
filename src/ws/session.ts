/**
 * One WebSocket connection, in its own Scope: closing it removes its subscriptions and interrupts its
 * running tool calls. Tool calls go through Router.call like every other entry point.
 */
import { Duration, Effect, Metric, Queue, Schema, SchemaIssue, type Scope } from "effect"
import { RateLimiter } from "effect/persistence"
import { Socket } from "effect/socket"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { websocketCloses, websocketDropped, websocketMessages } from "../observability/instruments.ts"
import type { Caller } from "../router/Caller.ts"
import { Router } from "../router/Router.ts"
import { toCallToolResult } from "../router/wire.ts"
import { Auth, type Identity } from "../security/Auth.ts"
import { KeyStore } from "../security/KeyStore.ts"
import { needAdmin, needRead } from "../security/permissions.ts"
import { RateLimits } from "../security/RateLimits.ts"
import { version } from "../version.ts"
import { ClientMessage, CloseCode, droppable, type ErrorCode, type ServerMessage } from "./protocol.ts"
import { type Connection, WsHub } from "./WsHub.ts"

const decodeMessage = Schema.decodeUnknownExit(ClientMessage, { onExcessProperty: "error" })
const messageTypes = ["auth", "subscribe", "unsubscribe", "subscribe_metrics", "execute_tool", "manage_api_key", "ping", "pong"]
const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/** The first problem Schema found in a message, with its field. */
const schemaProblem = (exit: ReturnType<typeof decodeMessage>) => {
  const error = exit._tag === "Failure" ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
  const issue = error === undefined ? undefined : formatIssues(error.issue).issues.at(-1)
  return issue === undefined ? "not a message" : `${issue.path?.length ? `${issue.path.join(".")}: ` : ""}${issue.message}`
}
const textDecoder = new TextDecoder()

const countMessage = (direction: "in" | "out", type: string) =>
  Metric.update(Metric.withAttributes(websocketMessages, { direction, type }), 1)

export const makeSession = Effect.gen(function*() {
  const hub = yield* WsHub
  const router = yield* Router
  const auth = yield* Auth
  const keys = yield* KeyStore
  const limits = yield* RateLimits
  const limiter = yield* RateLimiter.RateLimiter
  const config = yield* AppConfig

  /** Serves one upgraded connection until it closes. `initial` is what the upgrade request proved. */
  return (socket: Socket.Socket, initial: Caller) =>
    Effect.scoped(Effect.gen(function*() {
      const settings = config.current().websocket
      const writer = yield* socket.writer
      const id = randomUUID()
      const requireKey = config.current().security.requireApiKey
      let identity: Identity | undefined = initial.keyId !== undefined || !requireKey ? initial : undefined
      let lastSeen = Date.now()
      let fullSince: number | undefined

      const control = yield* Queue.unbounded<ServerMessage | Socket.CloseEvent>()
      const broadcasts = yield* Queue.sliding<ServerMessage>(settings.queueSize)
      const close = (code: number, reason: string) => Queue.offerUnsafe(control, new Socket.CloseEvent(code, reason))
      const reply = (message: ServerMessage) => void Queue.offerUnsafe(control, message)
      const fail = (code: ErrorCode, message: string, requestId?: string | number) =>
        reply(requestId === undefined ? { type: "error", code, message } : { type: "error", code, message, id: requestId })

      const connection: Connection = {
        id,
        rooms: new Set(),
        send: (message) => {
          if (!droppable(message)) return reply(message)
          if (Queue.isFullUnsafe(broadcasts)) {
            Effect.runSync(Metric.update(websocketDropped, 1))
            fullSince ??= Date.now()
            if (Date.now() - fullSince > settings.slowClientTimeout) close(CloseCode.SlowConsumer, "the client reads too slowly")
          } else {
            fullSince = undefined
          }
          Queue.offerUnsafe(broadcasts, message)
        }
      }

      const write = (message: ServerMessage | Socket.CloseEvent) =>
        Socket.isCloseEvent(message)
          ? Metric.update(Metric.withAttributes(websocketCloses, { code: String(message.code) }), 1).pipe(Effect.andThen(writer.write(message)))
          : countMessage("out", message.type).pipe(Effect.andThen(writer.write(JSON.stringify(message))))

      if (!(yield* hub.register(connection))) {
        return yield* write(new Socket.CloseEvent(CloseCode.TryAgainLater, `at most ${settings.maxConnections} connections`)).pipe(Effect.ignore)
      }
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(control), write)))
      yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(broadcasts), write)))

      reply({ type: "welcome", connectionId: id, version, authRequired: requireKey, authenticated: identity !== undefined })
      if (identity === undefined) {
        yield* Effect.sleep(settings.authTimeout).pipe(
          Effect.andThen(Effect.sync(() => identity === undefined && close(CloseCode.Unauthenticated, "not authenticated in time"))),
          Effect.forkScoped
        )
      }
      yield* Effect.sleep(settings.heartbeatInterval).pipe(
        Effect.andThen(Effect.sync(() =>
          Date.now() - lastSeen > 2 * settings.heartbeatInterval
            ? close(CloseCode.HeartbeatMissed, "no answer to the heartbeat")
            : reply({ type: "ping" })
        )),
        Effect.forever,
        Effect.forkScoped
      )

      /** An invalid message costs from a per-connection budget; a flood closes the socket. */
      const invalid = (code: ErrorCode, message: string, requestId?: string | number) =>
        limiter.consume({ key: `ws-invalid:${id}`, limit: settings.maxInvalidMessagesPerMinute, window: Duration.minutes(1), onExceeded: "fail" }).pipe(
          Effect.match({
            onFailure: () => close(CloseCode.Flood, "too many invalid messages"),
            onSuccess: () => fail(code, message, requestId)
          })
        )

      const caller = (who: Identity): Caller => ({ transport: "websocket", ...who, ...(initial.ip === undefined ? {} : { ip: initial.ip }) })

      const handle = (message: ClientMessage): Effect.Effect<void, never, Scope.Scope> => {
        if (identity === undefined && message.type !== "auth" && message.type !== "ping" && message.type !== "pong") {
          return invalid("unauthenticated", "Authenticate first: {\"type\":\"auth\",\"apiKey\":\"mcp_...\"}")
        }
        const who = identity ?? initial
        switch (message.type) {
          case "auth":
            return auth.authenticate(message.apiKey, initial.ip ?? "unknown").pipe(
              Effect.match({
                onSuccess: (proved) => {
                  identity = proved
                  reply({ type: "auth_ok", keyName: proved.keyName ?? "anonymous", permissions: proved.permissions })
                },
                onFailure: (error) => fail("unauthenticated", error.message)
              })
            )
          case "subscribe":
          case "subscribe_metrics": {
            const room = message.type === "subscribe" ? message.room : "metrics"
            return auth.check(who, needRead).pipe(
              Effect.match({
                onSuccess: () => {
                  connection.rooms.add(room)
                  reply({ type: "subscribed", room })
                },
                onFailure: (error) => fail("forbidden", error.message)
              })
            )
          }
          case "unsubscribe":
            connection.rooms.delete(message.room)
            return Effect.sync(() => reply({ type: "unsubscribed", room: message.room }))
          case "execute_tool": {
            const started = performance.now()
            const done = (outcome: { result: unknown } | { error: { code: ErrorCode; message: string } }) =>
              reply({ type: "tool_executed", id: message.id, toolName: message.toolName, ...outcome, durationMs: Math.round(performance.now() - started) })
            // each call runs on its own in the connection's scope: closing the socket interrupts it
            return limits.consume({ ...who, ip: initial.ip ?? "unknown" }).pipe(
              Effect.andThen(router.call(caller(who), message.toolName, message.arguments ?? {})),
              Effect.match({
                onSuccess: (output) => done({ result: toCallToolResult(output) }),
                onFailure: (error) =>
                  done({
                    error: {
                      code: error._tag === "UnknownTool" ? "unknown_tool" : error._tag === "InvalidArguments" ? "invalid_arguments" : error._tag === "RateLimited" ? "rate_limited" : "forbidden",
                      message: error.message
                    }
                  })
              }),
              Effect.forkScoped,
              Effect.asVoid
            )
          }
          case "manage_api_key":
            return auth.check(who, needAdmin).pipe(
              Effect.andThen(Effect.suspend((): Effect.Effect<unknown, { readonly _tag: string; readonly message: string }> => {
                switch (message.action) {
                  case "list":
                    return keys.list
                  case "revoke":
                    return message.keyId === undefined ? Effect.fail({ _tag: "Missing" as const, message: "revoke needs keyId" }) : keys.revoke(message.keyId)
                  case "create":
                    return message.name === undefined || message.permissions === undefined
                      ? Effect.fail({ _tag: "Missing" as const, message: "create needs name and permissions" })
                      : keys.create({ name: message.name, permissions: message.permissions })
                }
              })),
              Effect.match({
                onSuccess: (result) => reply({ type: "api_key", ...(message.id === undefined ? {} : { id: message.id }), action: message.action, result }),
                onFailure: (error) =>
                  fail(
                    error._tag === "PermissionDenied" ? "forbidden" : error._tag === "KeyNotFound" ? "not_found" : error._tag === "KeyStoreError" ? "storage_unavailable" : "invalid_message",
                    error.message,
                    message.id
                  )
              })
            )
          case "ping":
            return Effect.sync(() => reply(message.id === undefined ? { type: "pong" } : { type: "pong", id: message.id }))
          case "pong":
            return Effect.void
        }
      }

      const reader = yield* socket.reader
      for (;;) {
        const frames = yield* reader.pull
        for (const frame of frames) {
          lastSeen = Date.now()
          const text = typeof frame === "string" ? frame : textDecoder.decode(frame)
          let parsed: unknown
          try {
            parsed = JSON.parse(text)
          } catch {
            yield* invalid("invalid_json", "Messages are JSON objects such as {\"type\":\"ping\"}")
            continue
          }
          const decoded = decodeMessage(parsed)
          if (decoded._tag === "Failure") {
            const { id: requestId, type } = (parsed ?? {}) as { id?: unknown; type?: unknown }
            yield* invalid(
              "invalid_message",
              typeof type === "string" && !messageTypes.includes(type)
                ? `Unknown message type ${JSON.stringify(type)}; known types are ${messageTypes.join(", ")}`
                : `Malformed ${JSON.stringify(type)} message: ${schemaProblem(decoded)}`,
              typeof requestId === "string" || typeof requestId === "number" ? requestId : undefined
            )
            continue
          }
          yield* countMessage("in", decoded.value.type)
          yield* handle(decoded.value)
        }
      }
    })).pipe(Effect.ignore)
})

/**
 * One WebSocket connection, in its own Scope: closing it removes its subscriptions and interrupts its
 * running tool calls. Tool calls go through Router.call like every other entry point. Who the connection
 * is, the watch of its key and the address guard are in sessionAuth.ts.
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import * as SchemaIssue from "effect/SchemaIssue"
import type * as Scope from "effect/Scope"
import * as RateLimiter from "effect/persistence/RateLimiter"
import * as Socket from "effect/socket/Socket"
import { randomUUID } from "node:crypto"
import { AppConfig } from "../config/AppConfig.ts"
import { websocketCloses, websocketDropped, websocketMessages } from "../observability/instruments.ts"
import type { Caller } from "../router/Caller.ts"
import { Router } from "../router/Router.ts"
import { socketErrorCode, toCallToolResult } from "../router/wire.ts"
import { AuditSink } from "../security/AuditLog.ts"
import { Auth, type Identity } from "../security/Auth.ts"
import { IpGuard } from "../security/IpGuard.ts"
import { KeyStore } from "../security/KeyStore.ts"
import { needAdmin, needRead } from "../security/permissions.ts"
import { version } from "../version.ts"
import { ClientMessage, CloseCode, droppable, type ErrorCode, type Room, type ServerMessage } from "./protocol.ts"
import { makeSessionAuth } from "./sessionAuth.ts"
import type { TrackedWebSocket } from "./trackedWebSocket.ts"
import { type Connection, WsHub } from "./WsHub.ts"

/** Close codes of the errors ws closes a connection for. */
const wsErrorCodes: Record<string, number> = { WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009, WS_ERR_INVALID_UTF8: 1007 }

/** How often a broadcast waiting for a client that is behind looks again whether it has read. */
const drainPollInterval = "25 millis"
/**
 * How long a client has to answer the server's close frame before the connection is cut: a client that
 * does not read never answers it (nor receives it, behind what it has not read), and ws would wait 30 s.
 */
const closeGraceMs = 250

/**
 * Longest error message sent (characters): some name what the client sent (a field name, a message type),
 * and the client must not get back more than a bounded share of what it sends.
 */
const maxErrorMessageLength = 1024
const clip = (text: string) => (text.length <= maxErrorMessageLength ? text : `${text.slice(0, maxErrorMessageLength - 1)}…`)

/** A message on its way to the client, serialized once so that its size counts while it waits. */
interface Outgoing {
  readonly type: ServerMessage["type"]
  readonly text: string
  readonly bytes: number
}
const outgoing = (message: ServerMessage): Outgoing => {
  const text = JSON.stringify(message)
  return { type: message.type, text, bytes: Buffer.byteLength(text) }
}

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

/** The messages served only to an authenticated connection. */
type Request = Exclude<ClientMessage, { readonly type: "auth" | "ping" | "pong" }>

export const makeSession = Effect.gen(function*() {
  const hub = yield* WsHub
  const router = yield* Router
  const auth = yield* Auth
  const keys = yield* KeyStore
  const limiter = yield* RateLimiter.RateLimiter
  const config = yield* AppConfig
  const audit = yield* AuditSink
  const ipGuard = yield* IpGuard
  const authenticationOf = yield* makeSessionAuth

  /** Serves one upgraded connection until it closes. `initial` is what the upgrade request proved. */
  return (socket: Socket.Socket, initial: Caller, rawOf: () => TrackedWebSocket | undefined) =>
    Effect.scoped(Effect.gen(function*() {
      const settings = config.current().websocket
      const writer = yield* socket.writer
      // acquiring the reader completes the upgrade: only then can anything be written, a refusal included
      const reader = yield* socket.reader
      const raw = rawOf()
      const context = yield* Effect.context<never>()
      const id = randomUUID()
      const requireKey = config.current().security.requireApiKey
      // the client's address as the HTTP edge worked it out (behind trusted proxies), else the TCP peer's
      const ip = initial.ip ?? ipGuard.clientIp(raw?.peerAddress ?? "unknown", undefined)
      let lastSeen = Date.now()

      /** Broadcasts waiting their turn, oldest first: at most queueSize, taken when they fit in the budget. */
      const broadcasts: Array<Outgoing> = []
      /** Wakes the broadcast writer when it waits for a broadcast. */
      let wakeWriter: (() => void) | undefined
      const rooms = new Set<Room>()
      let closingWith: number | undefined
      /**
       * Every byte sent counts until the client reads it: what the socket has not delivered (ws's
       * bufferedAmount: replies are handed to it at once) and the broadcasts still waiting their turn.
       */
      let queuedBytes = 0
      const unread = () => (raw?.bufferedAmount ?? 0) + queuedBytes
      // authentication is made below: the budget is only asked for once the connection serves messages
      const budget = () => (authentication.identity() === undefined ? settings.maxUnreadBytesUnauthenticated : settings.maxUnreadBytes)
      /**
       * Since when the client has been behind: broadcasts had to wait for it, or were dropped, and none has
       * been written since (nor has the socket been seen empty).
       */
      let behindSince: number | undefined
      /** Drops the oldest waiting broadcast (counted); false when none waits. */
      const dropOldestBroadcast = () => {
        const oldest = broadcasts.shift()
        if (oldest === undefined) return false
        behindSince ??= Date.now()
        queuedBytes -= oldest.bytes
        Effect.runSyncWith(context)(Metric.update(websocketDropped, 1))
        return true
      }
      const write = (message: Outgoing | Socket.CloseEvent) =>
        Socket.isCloseEvent(message)
          ? writer.write(message)
          : countMessage("out", message.type).pipe(Effect.andThen(writer.write(message.text)))
      /** Hands a message to the socket now (ws.send does not block), in the order of the calls. */
      const writeNow = (message: Outgoing | Socket.CloseEvent) => {
        if (raw === undefined) return void Effect.runForkWith(context)(Effect.ignore(write(message)))
        if (Socket.isCloseEvent(message)) {
          try {
            raw.close(message.code, message.reason)
          } catch {
            raw.terminate()
          }
          return
        }
        Effect.runSyncWith(context)(countMessage("out", message.type))
        raw.send(message.text)
      }
      /**
       * Closes once: the connection leaves its rooms and serves nothing more; the socket is cut if the client
       * does not answer within closeGraceMs (a client that does not read never sees the close frame).
       */
      const close = (code: number, reason: string) => {
        if (closingWith !== undefined) return
        closingWith = code
        rooms.clear()
        writeNow(new Socket.CloseEvent(code, reason))
        setTimeout(() => {
          if (raw !== undefined && raw.readyState !== raw.CLOSED) raw.terminate()
        }, closeGraceMs).unref()
      }
      /**
       * Sends a reply (pong, error, answer, heartbeat). Waiting broadcasts give way first; when the client
       * still has more than its budget unread, it is not reading: the connection is closed (4503) instead.
       * A reply larger than the budget is still sent to a client that has read the rest.
       */
      const reply = (message: ServerMessage) => {
        if (closingWith !== undefined) return
        const out = outgoing(message)
        while (unread() + out.bytes > budget() && dropOldestBroadcast());
        if (unread() > budget()) return close(CloseCode.SlowConsumer, "the client does not read what it is sent")
        writeNow(out)
      }
      const fail = (code: ErrorCode, text: string, requestId?: string | number) => {
        const message = clip(text)
        reply(requestId === undefined ? { type: "error", code, message } : { type: "error", code, message, id: requestId })
      }
      const authentication = yield* authenticationOf(ip, { reply, close })
      if (initial.keyId !== undefined || !requireKey) authentication.adopt(initial)

      const connection: Connection = {
        id,
        rooms,
        keyRevoked: (keyId) => authentication.keyEnded(keyId, "revoked"),
        send: (message) => {
          if (closingWith !== undefined) return
          if (!droppable(message)) return reply(message)
          // the oldest broadcasts go to make room: in the queue (queueSize) and in the budget
          const out = outgoing(message)
          if (broadcasts.length >= settings.queueSize) dropOldestBroadcast()
          while (unread() + out.bytes > budget() && dropOldestBroadcast());
          queuedBytes += out.bytes
          broadcasts.push(out)
          wakeWriter?.()
        }
      }

      // every close is counted once, whoever closed: the client, the server, or ws itself (1009)
      // counted by the code that decided the close: ours, the one ws closed with (1009, ...), or the client's
      let wsErrorCode: number | undefined
      raw?.once("error", (error: NodeJS.ErrnoException) => void (wsErrorCode = wsErrorCodes[error.code ?? ""] ?? 1002))
      raw?.once("close", (code) =>
        Effect.runSyncWith(context)(Metric.update(Metric.withAttributes(websocketCloses, { code: String(closingWith ?? wsErrorCode ?? code) }), 1)))

      if (!(yield* hub.register(connection))) {
        return yield* write(new Socket.CloseEvent(CloseCode.TryAgainLater, `at most ${settings.maxConnections} connections`)).pipe(Effect.ignore)
      }
      const broadcastWaiting = Effect.callback<void>((resume) => {
        if (broadcasts.length > 0) return resume(Effect.void)
        wakeWriter = () => {
          wakeWriter = undefined
          resume(Effect.void)
        }
        return Effect.sync(() => void (wakeWriter = undefined))
      })
      // the oldest broadcast is written once it fits in the budget beside what the socket holds unread (or the
      // socket holds nothing); meanwhile it stays in the queue, where newer broadcasts or replies may drop it.
      // A client that stays behind for slowClientTimeout, with broadcasts waiting, is cut off.
      const behind = (next: Outgoing) => raw !== undefined && raw.bufferedAmount > 0 && raw.bufferedAmount + next.bytes > budget()
      const writeBroadcast = Effect.gen(function*() {
        yield* broadcastWaiting
        if (raw === undefined || raw.bufferedAmount === 0) behindSince = undefined
        while (broadcasts.length > 0 && behind(broadcasts[0]!)) {
          behindSince ??= Date.now()
          if (Date.now() - behindSince > settings.slowClientTimeout) {
            // a close frame would queue behind what the client does not read: the connection is cut instead
            closingWith ??= CloseCode.SlowConsumer
            raw!.terminate()
            return yield* Effect.never
          }
          yield* Effect.sleep(drainPollInterval)
        }
        const next = broadcasts.shift()
        if (next === undefined) return
        behindSince = undefined
        // from here the socket counts it, in bufferedAmount
        queuedBytes -= next.bytes
        yield* write(next)
      })
      yield* Effect.forkScoped(Effect.forever(writeBroadcast))

      let authDeadline = Infinity
      /**
       * Past the deadline an unauthenticated connection is closed (4401) whatever it has queued: when the
       * client has not read everything, the close frame would wait behind it, so the socket is cut at once.
       * Checked by a timer, and at every message (a timer may fire late while a flood is served).
       */
      const checkAuthDeadline = () => {
        if (closingWith !== undefined || authentication.identity() !== undefined || Date.now() < authDeadline) return
        close(CloseCode.Unauthenticated, "not authenticated in time")
        if (raw !== undefined && raw.bufferedAmount > 0) raw.terminate()
      }

      // the HTTP edge refuses blocked addresses too, but the session does not rely on it
      if (!authentication.refused()) {
        reply({ type: "welcome", connectionId: id, version, authRequired: requireKey, authenticated: authentication.identity() !== undefined })
        if (authentication.identity() === undefined) {
          authDeadline = Date.now() + settings.authTimeout
          yield* Effect.sleep(settings.authTimeout).pipe(Effect.andThen(Effect.sync(checkAuthDeadline)), Effect.forkScoped)
        }
      }
      // each heartbeat also applies the address guard to a connection that only answers pings
      yield* Effect.sleep(settings.heartbeatInterval).pipe(
        Effect.andThen(Effect.sync(() => {
          if (closingWith !== undefined || authentication.refused()) return
          if (Date.now() - lastSeen > 2 * settings.heartbeatInterval) close(CloseCode.HeartbeatMissed, "no answer to the heartbeat")
          else reply({ type: "ping" })
        })),
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

      /** Whether a request id may be echoed: a finite number, or a string of at most maxIdLength characters. */
      const echoable = (requestId: unknown): requestId is string | number =>
        typeof requestId === "number" ? Number.isFinite(requestId) : typeof requestId === "string" && requestId.length <= settings.maxIdLength

      const caller = (who: Identity): Caller => ({ transport: "websocket", ...who, ip })
      /** Tool calls running now: at most maxPendingRequests. */
      let pending = 0

      // a revoked or expired key closes the connection through KeyWatch (sessionAuth.ts), not here
      const handle = (message: ClientMessage): Effect.Effect<void, never, Scope.Scope> => {
        switch (message.type) {
          case "auth":
            return authentication.authenticate(message.apiKey)
          case "ping":
            return Effect.sync(() => reply(message.id === undefined ? { type: "pong" } : { type: "pong", id: message.id }))
          case "pong":
            return Effect.void
        }
        const who = authentication.identity()
        if (who === undefined) {
          return invalid("unauthenticated", "Authenticate first: {\"type\":\"auth\",\"apiKey\":\"mcp_...\"}", "id" in message ? message.id : undefined)
        }
        return serve(message, who)
      }

      const serve = (message: Request, who: Identity): Effect.Effect<void, never, Scope.Scope> => {
        switch (message.type) {
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
            // calls run concurrently, so the reader does not wait for them: their number is bounded instead
            if (pending >= settings.maxPendingRequests) {
              return Effect.sync(() => close(CloseCode.Flood, `more than ${settings.maxPendingRequests} tool calls running at once`))
            }
            pending++
            const started = performance.now()
            const done = (outcome: { result: unknown } | { error: { code: ErrorCode; message: string } }) =>
              reply({ type: "tool_executed", id: message.id, toolName: message.toolName, ...outcome, durationMs: Math.round(performance.now() - started) })
            // each call runs on its own in the connection's scope: closing the socket interrupts it
            return router.call(caller(who), message.toolName, message.arguments ?? {}).pipe(
              Effect.match({
                onSuccess: (output) => done({ result: toCallToolResult(output) }),
                onFailure: (error) =>
                  done({
                    error: {
                      code: socketErrorCode(error._tag),
                      message: clip(error.message)
                    }
                  })
              }),
              Effect.ensuring(Effect.sync(() => void pending--)),
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
                onSuccess: (result) => {
                  if (message.action !== "list") {
                    const target = message.action === "revoke" ? message.keyId! : (result as { record: { id: string } }).record.id
                    audit.record({ actor: who.keyId ?? "anonymous", action: `key.${message.action}`, target, outcome: "ok", details: { transport: "websocket" } })
                  }
                  reply({ type: "api_key", ...(message.id === undefined ? {} : { id: message.id }), action: message.action, result })
                  // connections on a key revoked here close at once, before anything else they send is served
                  if (message.action === "revoke") hub.keyRevoked(message.keyId!)
                },
                onFailure: (error) =>
                  fail(socketErrorCode(error._tag), error.message, message.id)
              })
            )
        }
      }

      while (closingWith === undefined) {
        const frames = yield* reader.pull
        for (const frame of frames) {
          // a closing connection serves nothing more; a refused address is closed at its next message
          checkAuthDeadline()
          if (closingWith !== undefined || authentication.refused()) break
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
              echoable(requestId) ? requestId : undefined
            )
            continue
          }
          // an id is echoed in the reply: a longer one is refused, and not echoed
          if ("id" in decoded.value && decoded.value.id !== undefined && !echoable(decoded.value.id)) {
            yield* invalid(
              "invalid_message",
              `Malformed ${JSON.stringify(decoded.value.type)} message: id: Expected at most ${settings.maxIdLength} characters, or a finite number`
            )
            continue
          }
          yield* countMessage("in", decoded.value.type)
          yield* handle(decoded.value)
        }
      }
      // closing: nothing more is read (the reader stops taking the socket's messages past its 64 KiB), so a
      // flood costs nothing more; the session ends when the socket has closed (answered, or cut)
      if (raw === undefined) return yield* Effect.forever(reader.pull)
      yield* Effect.callback<void>((resume) => {
        if (raw.readyState === raw.CLOSED) return resume(Effect.void)
        const closed = () => resume(Effect.void)
        raw.once("close", closed)
        return Effect.sync(() => void raw.off("close", closed))
      })
    })).pipe(Effect.ignore)
})

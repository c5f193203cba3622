/**
 * The shared bus on Redis, loaded by SharedBus only when `redis.url` is set. Two connections: the
 * commands (effect's `Redis` service from @effect/platform-node's NodeRedis, also the rate limiter's
 * store) and one subscriber for every channel. Both reconnect forever (backoff up to about a second);
 * while either is down the bus is `disconnected`: commands fail at once instead of queueing (the rate
 * limits then count in memory) and publishing is skipped (events stay on this replica).
 *
 * Channels are named `mcp-router:<database>:<name>`, the database being the number in `redis.url`
 * (0 by default): routers on different databases of one Redis server share nothing.
 */
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import * as Redis from "effect/persistence/Redis"
import { randomUUID } from "node:crypto"
import * as os from "node:os"
import { redisTarget, SharedBus, type SharedBusService, type SharedStatus } from "./SharedBus.ts"

type Client = Context.Service.Shape<typeof NodeRedis.NodeRedis>["client"]

/** How long the start waits for Redis before going on degraded (it keeps connecting meanwhile). */
const startWaitMs = 3_000
/** How long one connection attempt may take. */
const connectTimeoutMs = 2_000
/** Longest pause between two connection attempts, ms (plus up to 100 ms of jitter). */
const maxReconnectDelayMs = 1_000
/**
 * A connection that stays open while Redis no longer answers (a hung or overloaded server) is caught
 * by a PING this often; no answer within the timeout counts as disconnected until one comes.
 */
const heartbeatMs = 2_000
const heartbeatTimeoutMs = 1_000
/** How long a new subscription waits for Redis to confirm it. */
const subscribeWaitMs = 1_000
/** A publication not acknowledged within this time is reported as not sent. */
const publishTimeoutMs = 1_000

const reconnectDelay = (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), maxReconnectDelayMs) + Math.floor(Math.random() * 100)

const describe = (cause: unknown): string => {
  const error = cause as { readonly message?: unknown; readonly code?: unknown; readonly errors?: ReadonlyArray<unknown> } | undefined
  // a refused connection to a host with several addresses is an AggregateError without a message
  if (Array.isArray(error?.errors) && error.errors.length > 0 && (error.message === undefined || error.message === "")) return describe(error.errors[0])
  return typeof error?.message === "string" && error.message !== "" ? error.message : String(cause)
}

const databaseOf = (url: string) => {
  const database = new URL(url).pathname.replace(/^\//u, "")
  return database === "" ? 0 : Number(database)
}

export const make = (url: string) =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    // the bus logs with the router's loggers; NodeRedis's own warnings (one per reconnection attempt) are muted
    const context = yield* Effect.context<never>()
    const runFork = Effect.runForkWith(context)
    const target = redisTarget(url)
    const prefix = `mcp-router:${databaseOf(url)}:`
    const replicaId = `${os.hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`

    let live: { readonly redis: Context.Service.Shape<typeof Redis.Redis>; readonly client: Client; readonly subscriber: Client } | undefined
    let lastError: string | undefined
    let status: SharedStatus = "connecting"
    const statusListeners = new Set<(status: SharedStatus) => void>()
    const firstOutcome = yield* Deferred.make<void>()

    let everConnected = false
    /** Set while the connection is open but Redis does not answer the heartbeat. */
    let unresponsive = false
    /** Set when the router stops: the connections closing then are no loss of Redis. */
    let closing = false
    const update = () => {
      if (closing) return
      const next: SharedStatus = live !== undefined && live.client.isReady && live.subscriber.isReady && !unresponsive
        ? "connected"
        : !everConnected && lastError === undefined
        ? "connecting"
        : "disconnected"
      if (next === status) return
      const first = !everConnected
      status = next
      if (next === "connected") {
        everConnected = true
        lastError = undefined
      }
      runFork(
        next === "connected"
          ? first
            ? Effect.logInfo(`Redis at ${target} connected: rate limits, events and key revocations are shared`)
            : Effect.logInfo(`Redis at ${target} is reachable again: shared rate limits and events resume`)
          : Effect.logWarning(
            `Redis at ${target} cannot be reached (${lastError ?? "connection lost"}): rate limits fall back to per-replica memory, events stay on this replica and key revocations reach the others through the key store, until it returns`
          )
      )
      for (const listener of [...statusListeners]) {
        try {
          listener(next)
        } catch {
          // a listener's failure is its own
        }
      }
      // last: the start may go on synchronously from here
      Deferred.doneUnsafe(firstOutcome, Effect.void)
    }
    const failed = (cause: unknown) => {
      lastError = describe(cause)
      update()
    }

    // messages by full channel name; one subscriber connection serves them all
    const channels = new Map<string, Set<(message: string) => void>>()
    const dispatch = (message: string, channel: string) => {
      for (const onMessage of channels.get(channel) ?? []) {
        try {
          onMessage(message)
        } catch (error) {
          runFork(Effect.logWarning(`a listener of Redis channel ${channel} failed`, { error: String(error) }))
        }
      }
    }
    // node-redis subscribes again after a reconnection to what it had confirmed; a SUBSCRIBE lost with
    // the connection was never confirmed, so it is sent again once the connection is back
    const listen = (subscriber: Client, channel: string): Promise<void> =>
      subscriber.subscribe(channel, dispatch).catch((error: unknown) => {
        failed(error)
        subscriber.once("ready", () => channels.has(channel) && listen(subscriber, channel))
      })

    const options = {
      url,
      // while disconnected, a command fails at once rather than waiting for the connection
      disableOfflineQueue: true,
      socket: {
        connectTimeout: connectTimeoutMs,
        reconnectStrategy: (retries: number, cause: Error) => {
          failed(cause)
          return reconnectDelay(retries)
        }
      }
    }

    const connect = Effect.gen(function*() {
      const services = yield* Layer.buildWithScope(NodeRedis.layer(options), scope).pipe(
        Effect.provideService(References.MinimumLogLevel, "Error")
      )
      const client = Context.get(services, NodeRedis.NodeRedis).client
      const redis = Context.get(services, Redis.Redis)
      // subscriptions wait for the connection (and are made again after each reconnection)
      const subscriber = client.duplicate({ disableOfflineQueue: false })
      yield* Scope.addFinalizer(scope, Effect.sync(() => subscriber.destroy()))
      // finalizers run last first: this one before the connections close
      yield* Scope.addFinalizer(scope, Effect.sync(() => closing = true))
      for (const [emitter, name] of [[client, "commands"], [subscriber, "subscriber"]] as const) {
        emitter.on("ready", () => {
          // a new connection answers: the heartbeat's doubt was about the one before
          if (emitter === client) unresponsive = false
          update()
        })
        emitter.on("end", update)
        emitter.on("reconnecting", update)
        emitter.on("error", (error: unknown) => {
          lastError = `${name} connection: ${describe(error)}`
          update()
        })
      }
      live = { redis, client, subscriber }
      for (const channel of channels.keys()) void listen(subscriber, channel)
      update()
      subscriber.connect().catch((error: unknown) => failed(error))
    }).pipe(
      Effect.catch((error) => Effect.sync(() => failed(error.cause))),
      Effect.forkIn(scope)
    )
    yield* connect
    // the heartbeat: only a timeout counts here (a closed connection is seen by the client itself)
    yield* Effect.suspend(() => {
      if (live === undefined || !live.client.isReady) return Effect.void
      return live.redis.send("PING").pipe(
        Effect.timeoutOption(heartbeatTimeoutMs),
        Effect.match({
          onFailure: () => {},
          onSuccess: (answer) => {
            unresponsive = answer._tag === "None"
            if (unresponsive) lastError = `no answer to PING within ${heartbeatTimeoutMs} ms`
            update()
          }
        })
      )
    }).pipe(Effect.repeat(Schedule.spaced(heartbeatMs)), Effect.forkIn(scope))
    yield* Deferred.await(firstOutcome).pipe(Effect.timeoutOption(startWaitMs))

    const notConnected = () => new Redis.RedisError({ cause: new Error(`Redis at ${target} is not connected${lastError === undefined ? "" : `: ${lastError}`}`) })
    const redis: Context.Service.Shape<typeof Redis.Redis> = {
      send: (command, ...args) => Effect.suspend(() => (live === undefined ? Effect.fail(notConnected()) : live.redis.send(command, ...args))),
      eval: (script) => (...params) => Effect.suspend(() => (live === undefined ? Effect.fail(notConnected()) : live.redis.eval(script)(...params))),
      subscribe: (channel) => Effect.suspend(() => (live === undefined ? Effect.die(notConnected()) : live.redis.subscribe(channel))),
      reserve: Effect.suspend(() => (live === undefined ? Effect.fail(notConnected()) : live.redis.reserve))
    }

    const publishPromise = (channel: string, message: string): Promise<boolean> | undefined =>
      live === undefined || status !== "connected" ? undefined : live.client.publish(prefix + channel, message).then(() => true, () => false)

    const bus: SharedBusService = {
      enabled: true,
      replicaId,
      target,
      status: () => status,
      problem: () => (status === "connected" ? undefined : lastError ?? "not connected yet"),
      onStatus: (listener) =>
        Effect.acquireRelease(Effect.sync(() => statusListeners.add(listener)), () => Effect.sync(() => statusListeners.delete(listener))).pipe(Effect.asVoid),
      publish: (channel, message) =>
        Effect.suspend(() => {
          const sent = publishPromise(channel, message)
          return sent === undefined
            ? Effect.succeed(false)
            : Effect.promise(() => sent).pipe(Effect.timeoutOrElse({ duration: publishTimeoutMs, orElse: () => Effect.succeed(false) }))
        }),
      publishUnsafe: (channel, message) => void publishPromise(channel, message),
      subscribe: (channel, onMessage) =>
        Effect.acquireRelease(
          Effect.suspend(() => {
            const full = prefix + channel
            let listeners = channels.get(full)
            let subscribed: Promise<void> | undefined
            if (listeners === undefined) {
              channels.set(full, listeners = new Set())
              if (live !== undefined) subscribed = listen(live.subscriber, full)
            }
            listeners.add(onMessage)
            // while connected, Redis confirms the subscription first (at start: before the router serves)
            return subscribed === undefined || status !== "connected"
              ? Effect.succeed(full)
              : Effect.promise(() => subscribed).pipe(Effect.timeoutOption(subscribeWaitMs), Effect.as(full))
          }),
          (full) =>
            Effect.sync(() => {
              const listeners = channels.get(full)
              listeners?.delete(onMessage)
              if (listeners?.size === 0) {
                channels.delete(full)
                if (live?.subscriber.isOpen === true) live.subscriber.unsubscribe(full).catch(() => {})
              }
            })
        ).pipe(Effect.asVoid),
      redis,
      ping: (timeoutMs) =>
        redis.send<string>("PING").pipe(
          Effect.as(undefined),
          Effect.catch((error) => Effect.succeed(describe(error.cause))),
          Effect.timeoutOrElse({ duration: timeoutMs, orElse: () => Effect.succeed(`no answer to PING within ${timeoutMs} ms`) })
        )
    }
    return bus
  })

export const layer = (url: string) => Layer.effect(SharedBus, make(url))

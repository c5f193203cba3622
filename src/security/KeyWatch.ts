/**
 * Ends every live use of a key (an open WebSocket, an MCP session, a request in flight) once the key
 * is revoked or expires. Uses register while they last; the keys in use are checked against the
 * store every `checkIntervalMs`, so a revocation made here, by the CLI or by another replica takes
 * effect within that time, and an expiry at its time. With Redis (`redis.url`), a revocation notice from
 * any replica (KeyRevocations.ts) has the key read again at once; the polling goes on all the same.
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Scope from "effect/Scope"
import { SharedBus } from "../shared/SharedBus.ts"
import { decodeNotice, revocationsChannel } from "./KeyRevocations.ts"
import { KeyStore } from "./KeyStore.ts"

export type KeyEnd = "revoked" | "expired"

/** How often the keys in use are read again: revocation ends their uses within this time. */
export const checkIntervalMs = 500

const ended = (record: { readonly revokedAt: string | null; readonly expiresAt: string | null } | undefined, now: number): KeyEnd | undefined =>
  record === undefined || record.revokedAt !== null
    ? "revoked"
    : record.expiresAt !== null && Date.parse(record.expiresAt) <= now
    ? "expired"
    : undefined

export class KeyWatch extends Context.Service<KeyWatch, {
  /**
   * Runs `onEnd` once when the key ends, unless the scope closes first. Registering is synchronous
   * and costs a map entry; `onEnd` must not fail (it closes a socket, interrupts a fiber, ...).
   */
  readonly watch: (keyId: string, onEnd: (end: KeyEnd) => Effect.Effect<void>) => Effect.Effect<void, never, Scope.Scope>
  /** The same without a Scope, for the request path: returns the function that unregisters. */
  readonly register: (keyId: string, onEnd: (end: KeyEnd) => void) => () => void
  /** Keys being watched now, with their number of uses. */
  readonly inUse: () => number
}>()("mcp-router/security/KeyWatch") {
  static readonly layer = Layer.effect(
    KeyWatch,
    Effect.gen(function*() {
      const keys = yield* KeyStore
      const uses = new Map<string, Set<(end: KeyEnd) => void>>()
      const register = (keyId: string, onEnd: (end: KeyEnd) => void) => {
        let listeners = uses.get(keyId)
        if (listeners === undefined) uses.set(keyId, listeners = new Set())
        listeners.add(onEnd)
        return () => {
          const current = uses.get(keyId)
          current?.delete(onEnd)
          if (current?.size === 0) uses.delete(keyId)
        }
      }

      const checkKeys = (ids: ReadonlyArray<string>) =>
        Effect.forEach(ids, (id) =>
          keys.get(id).pipe(
            // a store that cannot answer now ends nothing: the next check asks again
            Effect.option,
            Effect.flatMap((found) => {
              if (found._tag === "None") return Effect.void
              const end = ended(found.value, Date.now())
              const listeners = uses.get(id)
              if (end === undefined || listeners === undefined) return Effect.void
              uses.delete(id)
              return Effect.sync(() => listeners.forEach((onEnd) => onEnd(end)))
            })
          ), { discard: true, concurrency: 8 })
      const check = Effect.suspend(() => checkKeys([...uses.keys()]))
      yield* check.pipe(Effect.repeat(Schedule.spaced(Duration.millis(checkIntervalMs))), Effect.forkScoped)

      // a revocation announced by any replica (this one included): that key is read again now
      const bus = Option.getOrUndefined(yield* Effect.serviceOption(SharedBus))
      if (bus?.enabled === true) {
        const runFork = Effect.runForkWith(yield* Effect.context<never>())
        yield* bus.subscribe(revocationsChannel, (message) => {
          const notice = decodeNotice(message)
          if (notice !== undefined && uses.has(notice.keyId)) runFork(checkKeys([notice.keyId]))
        })
      }

      return KeyWatch.of({
        watch: (keyId, onEnd) =>
          Effect.acquireRelease(
            Effect.context<never>().pipe(
              Effect.map((context) => register(keyId, (end) => Effect.runForkWith(context)(onEnd(end))))
            ),
            (unregister) => Effect.sync(unregister)
          ).pipe(Effect.asVoid),
        register,
        inUse: () => uses.size
      })
    })
  )
}

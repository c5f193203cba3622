/**
 * Who a WebSocket connection is, and when that ends. The identity comes from the upgrade (a key in its
 * headers) or from `auth` messages; its key is watched by KeyWatch, so revoking or expiring it closes the
 * connection (4401) whether or not the client sends anything. The address guard is applied as over HTTP:
 * a refused address is closed (4403) when it connects, at each message and each heartbeat, and every
 * failed `auth` message counts as a failed authentication of the address.
 */
import * as Effect from "effect/Effect"
import { Auth, type Identity } from "../security/Auth.ts"
import { IpGuard } from "../security/IpGuard.ts"
import { type KeyEnd, KeyWatch } from "../security/KeyWatch.ts"
import { AddressBlocked } from "../security/SecurityErrors.ts"
import { SecurityStats } from "../security/SecurityStats.ts"
import { CloseCode, type ServerMessage } from "./protocol.ts"

/**
 * The one answer to a failed `auth` message, whatever the reason: it must not tell a guesser whether
 * the key exists (revoked, expired) or not.
 */
export const authFailedMessage = "Authentication failed: the API key is not valid"

export interface SessionAuth {
  /** What the connection has proved, or undefined while it has not authenticated. */
  readonly identity: () => Identity | undefined
  /** Makes `who` the connection's identity and watches its key (the watch of an earlier key ends). */
  readonly adopt: (who: Identity) => void
  /** Handles an `auth` message: replies auth_ok or an error; a refused address is closed. */
  readonly authenticate: (apiKey: string) => Effect.Effect<void>
  /** When the address guard refuses the client's address now, tells it and closes; answers whether it did. */
  readonly refused: () => boolean
  /** The connection's key ended (revoked here, or seen by KeyWatch): closes the connection. */
  readonly keyEnded: (keyId: string, end: KeyEnd) => void
}

export const makeSessionAuth = Effect.gen(function*() {
  const auth = yield* Auth
  const ipGuard = yield* IpGuard
  const keyWatch = yield* KeyWatch
  const stats = yield* SecurityStats

  /**
   * The authentication of one connection from `ip`, in the connection's scope. `close` ends the
   * connection (at once for a client that does not read); `reply` queues a message to the client.
   */
  return (ip: string, handlers: { readonly reply: (message: ServerMessage) => void; readonly close: (code: number, reason: string) => void }) =>
    Effect.gen(function*() {
      const { reply, close } = handlers
      const context = yield* Effect.context<never>()
      let current: Identity | undefined
      let unwatch: (() => void) | undefined
      yield* Effect.addFinalizer(() => Effect.sync(() => unwatch?.()))

      const keyEnded = (keyId: string, end: KeyEnd) => {
        if (current?.keyId !== keyId) return
        current = undefined
        close(CloseCode.Unauthenticated, end === "expired" ? "the API key has expired" : "the API key has been revoked")
      }

      const adopt = (who: Identity) => {
        unwatch?.()
        unwatch = undefined
        current = who
        const keyId = who.keyId
        if (keyId !== undefined) unwatch = keyWatch.register(keyId, (end) => keyEnded(keyId, end))
      }

      const refused = () => {
        const reason = ipGuard.refusal(ip)
        if (reason === undefined) return false
        Effect.runSyncWith(context)(stats.record("blocked", "address"))
        reply({ type: "error", code: "address_blocked", message: new AddressBlocked({ ip, reason }).message })
        close(CloseCode.AddressBlocked, "the address is refused")
        return true
      }

      const authenticate = (apiKey: string): Effect.Effect<void> =>
        Effect.suspend(() => {
          // a blocked address may not try keys, not even the right one
          if (refused()) return Effect.void
          // Auth counts every presented key that fails (unknown, revoked, expired) against the address
          return auth.authenticate(apiKey, ip).pipe(
            Effect.matchEffect({
              onSuccess: (proved) =>
                Effect.sync(() => {
                  adopt(proved)
                  reply({ type: "auth_ok", keyName: proved.keyName ?? "anonymous", permissions: proved.permissions })
                }),
              onFailure: (error) =>
                Effect.sync(() => {
                  if (error._tag === "KeyStoreError") {
                    return reply({ type: "error", code: "storage_unavailable", message: "The key store cannot answer now; try again shortly" })
                  }
                  // an empty key proves nothing and guesses nothing: it is told what to send
                  reply({ type: "error", code: "unauthenticated", message: error.reason === "missing" ? error.message : authFailedMessage })
                  // this failure may be the one that blocks the address
                  refused()
                })
            })
          )
        })

      return { identity: () => current, adopt, authenticate, refused, keyEnded } satisfies SessionAuth
    })
})

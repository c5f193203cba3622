/**
 * Key revocations across replicas. With `redis.url` set, a key revoked here (admin API, WebSocket, a
 * rotated MCP_ADMIN_KEY) is announced on the shared bus; a replica that hears of it reads the key from
 * the store, which stays the truth, and refuses it from then on without waiting for its key cache to
 * expire, while KeyWatch ends the key's open sessions, sockets and requests at once. A notice that does
 * not arrive (Redis down) delays nothing beyond what KeyWatch's polling of the store already bounds.
 *
 * The layer decorates the KeyStore below it; without a SharedBus on Redis it is that KeyStore unchanged.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { SharedBus } from "../shared/SharedBus.ts"
import { type ApiKeyRecord, KeyStore } from "./KeyStore.ts"

/** The bus channel of revocation notices: `{"from": replicaId, "keyId": "key_..."}`. */
export const revocationsChannel = "keys"

export interface RevocationNotice {
  readonly from: string
  readonly keyId: string
}

export const encodeNotice = (notice: RevocationNotice) => JSON.stringify(notice)

/** A notice, or undefined for anything else on the channel. */
export const decodeNotice = (message: string): RevocationNotice | undefined => {
  try {
    const value = JSON.parse(message) as Partial<Record<keyof RevocationNotice, unknown>>
    return typeof value.from === "string" && typeof value.keyId === "string" && value.keyId.length <= 256
      ? { from: value.from, keyId: value.keyId }
      : undefined
  } catch {
    return undefined
  }
}

/** How long a revocation heard of is applied over the key cache: far longer than the cache keeps a key. */
const overrideMs = 60_000
const maxOverrides = 10_000

export const KeyRevocations = Layer.effect(
  KeyStore,
  Effect.gen(function*() {
    const keys = yield* KeyStore
    const bus = Option.getOrUndefined(yield* Effect.serviceOption(SharedBus))
    if (bus === undefined || !bus.enabled) return keys
    const context = yield* Effect.context<never>()

    /** Keys another replica revoked, as read back from the store. */
    const revoked = new Map<string, { readonly record: ApiKeyRecord; readonly at: number }>()
    const remember = (record: ApiKeyRecord) => {
      const now = Date.now()
      for (const [id, entry] of revoked) {
        if (now - entry.at < overrideMs && revoked.size < maxOverrides) break
        revoked.delete(id)
      }
      revoked.set(record.id, { record, at: now })
    }

    yield* bus.subscribe(revocationsChannel, (message) => {
      const notice = decodeNotice(message)
      if (notice === undefined || notice.from === bus.replicaId) return
      // the store decides: a notice only makes this replica read the key now
      Effect.runForkWith(context)(keys.get(notice.keyId).pipe(
        Effect.tap((record) => Effect.sync(() => record !== undefined && record.revokedAt !== null && remember(record))),
        Effect.ignore
      ))
    })

    return KeyStore.of({
      ...keys,
      revoke: (id) =>
        // the notice never holds the revocation up: the store has it already
        keys.revoke(id).pipe(Effect.tap(() => Effect.sync(() => bus.publishUnsafe(revocationsChannel, encodeNotice({ from: bus.replicaId, keyId: id }))))),
      lookup: (key) =>
        keys.lookup(key).pipe(Effect.map((record) => {
          if (record === undefined || record.revokedAt !== null) return record
          const heard = revoked.get(record.id)
          return heard === undefined ? record : { ...record, revokedAt: heard.record.revokedAt }
        }))
    })
  })
)

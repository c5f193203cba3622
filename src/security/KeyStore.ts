/**
 * API keys: stored hashed in the database, held in memory by hash so authentication is a hash and a
 * map lookup. Writes go to the database first; the memory copy changes only once they are committed.
 */
import { Context, Effect, Layer, Schema } from "effect"
import { SqlClient } from "effect/sql"
import { displayPrefix, generateKey, hashKey, newKeyId, sameHash } from "./apiKeys.ts"

export interface ApiKeyRecord {
  readonly id: string
  readonly name: string
  readonly prefix: string
  readonly permissions: ReadonlyArray<string>
  readonly createdAt: string
  readonly lastUsedAt: string | null
  readonly expiresAt: string | null
  readonly revokedAt: string | null
  /** Per-key overrides of security.maxRequestsPerMinute / PerHour. */
  readonly ratePerMinute: number | null
  readonly ratePerHour: number | null
}

export interface NewKey {
  readonly name: string
  readonly permissions: ReadonlyArray<string>
  readonly expiresAt?: string | undefined
  readonly ratePerMinute?: number | undefined
  readonly ratePerHour?: number | undefined
  /** Store this key instead of generating one (the bootstrap admin key from MCP_ADMIN_KEY). */
  readonly key?: string | undefined
}

export class KeyStoreError extends Schema.TaggedError<KeyStoreError>()("KeyStoreError", {
  message: Schema.String
}) {}

export class KeyNotFound extends Schema.TaggedError<KeyNotFound>()("KeyNotFound", { id: Schema.String }) {
  override get message(): string {
    return `No API key with id ${this.id}; security.listApiKeys shows the ids`
  }
}

interface Row {
  readonly id: string
  readonly name: string
  readonly prefix: string
  readonly hash: string
  readonly permissions: string
  readonly created_at: string
  readonly last_used_at: string | null
  readonly expires_at: string | null
  readonly revoked_at: string | null
  readonly rate_per_minute: number | null
  readonly rate_per_hour: number | null
}

const fromRow = (row: Row): ApiKeyRecord & { readonly hash: string } => ({
  id: row.id,
  name: row.name,
  prefix: row.prefix,
  hash: row.hash,
  permissions: JSON.parse(row.permissions) as Array<string>,
  createdAt: row.created_at,
  lastUsedAt: row.last_used_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
  ratePerMinute: row.rate_per_minute,
  ratePerHour: row.rate_per_hour
})

const publicRecord = ({ hash: _hash, ...record }: ApiKeyRecord & { readonly hash: string }): ApiKeyRecord => record

/** lastUsedAt is written at most this often per key, to keep writes off the request path. */
const lastUsedResolutionMs = 60_000

export class KeyStore extends Context.Service<KeyStore, {
  readonly create: (key: NewKey) => Effect.Effect<{ readonly key: string; readonly record: ApiKeyRecord }, KeyStoreError>
  readonly list: Effect.Effect<ReadonlyArray<ApiKeyRecord>>
  readonly revoke: (id: string) => Effect.Effect<ApiKeyRecord, KeyNotFound | KeyStoreError>
  readonly get: (id: string) => ApiKeyRecord | undefined
  /** The record of a presented key, or undefined; synchronous, for the hot path. */
  readonly lookup: (key: string) => ApiKeyRecord | undefined
  /** Records that a key was used (coalesced per minute). */
  readonly touch: (id: string) => Effect.Effect<void>
  readonly count: () => number
}>()("mcp-router/security/KeyStore") {
  static readonly layer = Layer.effect(
    KeyStore,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const storeError = (e: unknown) => new KeyStoreError({ message: `API key storage failed: ${String((e as Error)?.message ?? e)}` })
      const byHash = new Map<string, ApiKeyRecord & { readonly hash: string }>()
      const rows = yield* sql<Row>`SELECT * FROM api_keys`.pipe(Effect.orDie)
      for (const row of rows) byHash.set(row.hash, fromRow(row))
      const lastTouched = new Map<string, number>()

      const byId = new Map<string, string>()
      for (const record of byHash.values()) byId.set(record.id, record.hash)
      const findById = (id: string) => {
        const hash = byId.get(id)
        return hash === undefined ? undefined : byHash.get(hash)
      }

      return KeyStore.of({
        create: (input) =>
          Effect.gen(function*() {
            const key = input.key ?? generateKey()
            const record = {
              id: newKeyId(),
              name: input.name,
              prefix: displayPrefix(key),
              hash: hashKey(key),
              permissions: [...input.permissions],
              createdAt: new Date().toISOString(),
              lastUsedAt: null,
              expiresAt: input.expiresAt ?? null,
              revokedAt: null,
              ratePerMinute: input.ratePerMinute ?? null,
              ratePerHour: input.ratePerHour ?? null
            }
            yield* sql`INSERT INTO api_keys ${
              sql.insert({
                id: record.id,
                name: record.name,
                prefix: record.prefix,
                hash: record.hash,
                permissions: JSON.stringify(record.permissions),
                created_at: record.createdAt,
                expires_at: record.expiresAt,
                rate_per_minute: record.ratePerMinute,
                rate_per_hour: record.ratePerHour
              })
            }`.pipe(Effect.mapError(storeError))
            byHash.set(record.hash, record)
            byId.set(record.id, record.hash)
            return { key, record: publicRecord(record) }
          }),
        list: Effect.sync(() => Array.from(byHash.values(), publicRecord).sort((a, b) => a.createdAt.localeCompare(b.createdAt))),
        revoke: (id) =>
          Effect.gen(function*() {
            const existing = findById(id)
            if (existing === undefined) return yield* new KeyNotFound({ id })
            if (existing.revokedAt !== null) return publicRecord(existing)
            const revokedAt = new Date().toISOString()
            yield* sql`UPDATE api_keys SET revoked_at = ${revokedAt} WHERE id = ${id}`.pipe(Effect.mapError(storeError))
            const revoked = { ...existing, revokedAt }
            byHash.set(existing.hash, revoked)
            return publicRecord(revoked)
          }),
        get: (id) => {
          const record = findById(id)
          return record === undefined ? undefined : publicRecord(record)
        },
        lookup: (key) => {
          const hash = hashKey(key)
          const found = byHash.get(hash)
          // the map lookup is by hash already; compare in constant time all the same
          return found !== undefined && sameHash(found.hash, hash) ? publicRecord(found) : undefined
        },
        touch: (id) =>
          Effect.suspend(() => {
            const now = Date.now()
            if (now - (lastTouched.get(id) ?? 0) < lastUsedResolutionMs) return Effect.void
            lastTouched.set(id, now)
            const at = new Date(now).toISOString()
            const record = findById(id)
            if (record !== undefined) byHash.set(record.hash, { ...record, lastUsedAt: at })
            return sql`UPDATE api_keys SET last_used_at = ${at} WHERE id = ${id}`.pipe(Effect.ignore)
          }),
        count: () => byHash.size
      })
    })
  )
}

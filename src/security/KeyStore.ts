/**
 * API keys: stored hashed in the database, held in memory by hash so authentication is a hash and a
 * map lookup. Writes go to the database first; the memory copy changes only once they are committed.
 * On a shared store (PostgreSQL) a key created or revoked by another replica is seen here within
 * `cacheTtlMs`; while the store cannot be reached every key change fails with KeyStoreError (HTTP 503)
 * naming the store.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as SqlClient from "effect/sql/SqlClient"
import { describeStorageError, StorageInfo } from "../storage/Database.ts"
import { displayPrefix, generateKey, hashKey, newKeyId } from "./apiKeys.ts"

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
/**
 * How long a key read from the database is trusted before it is read again: keys created or revoked by
 * another process (the CLI, another replica) take effect within this time; changes made here at once.
 */
const cacheTtlMs = 1_000

type StoredKey = ApiKeyRecord & { readonly hash: string }

export class KeyStore extends Context.Service<KeyStore, {
  readonly create: (key: NewKey) => Effect.Effect<{ readonly key: string; readonly record: ApiKeyRecord }, KeyStoreError>
  readonly list: Effect.Effect<ReadonlyArray<ApiKeyRecord>, KeyStoreError>
  readonly revoke: (id: string) => Effect.Effect<ApiKeyRecord, KeyNotFound | KeyStoreError>
  readonly get: (id: string) => Effect.Effect<ApiKeyRecord | undefined, KeyStoreError>
  /** The record of a presented key, or undefined. */
  readonly lookup: (key: string) => Effect.Effect<ApiKeyRecord | undefined, KeyStoreError>
  /** Records that a key was used (coalesced per minute). */
  readonly touch: (id: string) => Effect.Effect<void>
  readonly count: Effect.Effect<number, KeyStoreError>
}>()("mcp-router/security/KeyStore") {
  static readonly layer = Layer.effect(
    KeyStore,
    Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const store = yield* StorageInfo
      const storeError = (e: unknown) =>
        new KeyStoreError({
          message: store.shared
            ? `API key storage failed: ${store.label} cannot be used (${describeStorageError(e)}); API keys cannot be created, revoked or checked until it answers again`
            : `API key storage failed: ${describeStorageError(e)}`
        })
      // by hash: the record as the request path hands it out, made once per read
      const cache = new Map<string, { readonly record: ApiKeyRecord | undefined; readonly at: number }>()
      const lastTouched = new Map<string, number>()
      const remember = (hash: string, stored: StoredKey | undefined) => {
        if (cache.size > 10_000) cache.delete(cache.keys().next().value!)
        const record = stored === undefined ? undefined : publicRecord(stored)
        cache.set(hash, { record, at: Date.now() })
        return record
      }
      const selectOne = (rows: Effect.Effect<ReadonlyArray<Row>, unknown>) =>
        rows.pipe(Effect.map((found) => (found[0] === undefined ? undefined : fromRow(found[0]))), Effect.mapError(storeError))

      return KeyStore.of({
        create: (input) =>
          Effect.gen(function*() {
            const key = input.key ?? generateKey()
            const record: StoredKey = {
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
            // a given key stored meanwhile by another router (replicas starting with one MCP_ADMIN_KEY) is kept as it is
            const inserted = yield* sql<{ readonly id: string }>`INSERT INTO api_keys ${
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
            } ON CONFLICT (hash) DO NOTHING RETURNING id`.pipe(Effect.mapError(storeError))
            const stored = inserted.length > 0
              ? record
              : yield* selectOne(sql<Row>`SELECT * FROM api_keys WHERE hash = ${record.hash}`)
            if (stored === undefined || (stored !== record && input.key === undefined)) {
              return yield* new KeyStoreError({ message: "API key storage failed: a generated key collided with a stored one; try again" })
            }
            remember(stored.hash, stored)
            return { key, record: publicRecord(stored) }
          }),
        list: sql<Row>`SELECT * FROM api_keys ORDER BY created_at, id`.pipe(
          Effect.map((rows) => rows.map((row) => publicRecord(fromRow(row)))),
          Effect.mapError(storeError)
        ),
        revoke: (id) =>
          Effect.gen(function*() {
            const existing = yield* selectOne(sql<Row>`SELECT * FROM api_keys WHERE id = ${id}`)
            if (existing === undefined) return yield* new KeyNotFound({ id })
            if (existing.revokedAt !== null) return publicRecord(existing)
            const revokedAt = new Date().toISOString()
            yield* sql`UPDATE api_keys SET revoked_at = ${revokedAt} WHERE id = ${id}`.pipe(Effect.mapError(storeError))
            const revoked = { ...existing, revokedAt }
            remember(existing.hash, revoked)
            return publicRecord(revoked)
          }),
        get: (id) =>
          selectOne(sql<Row>`SELECT * FROM api_keys WHERE id = ${id}`).pipe(Effect.map((r) => (r === undefined ? undefined : publicRecord(r)))),
        lookup: (key) =>
          Effect.suspend(() => {
            const hash = hashKey(key)
            const cached = cache.get(hash)
            if (cached !== undefined && Date.now() - cached.at < cacheTtlMs) return Effect.succeed(cached.record)
            return selectOne(sql<Row>`SELECT * FROM api_keys WHERE hash = ${hash}`).pipe(Effect.map((r) => remember(hash, r)))
          }),
        touch: (id) =>
          Effect.suspend(() => {
            const now = Date.now()
            if (now - (lastTouched.get(id) ?? 0) < lastUsedResolutionMs) return Effect.void
            lastTouched.set(id, now)
            return sql`UPDATE api_keys SET last_used_at = ${new Date(now).toISOString()} WHERE id = ${id}`.pipe(Effect.ignore)
          }),
        count: sql<{ readonly n: number }>`SELECT COUNT(*) AS n FROM api_keys`.pipe(
          Effect.map((rows) => rows[0]?.n ?? 0),
          Effect.mapError(storeError)
        )
      })
    })
  )
}

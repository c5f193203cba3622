/**
 * The first admin key. MCP_ADMIN_KEY (or MCP_ADMIN_KEY_FILE) is stored hashed if it is not stored yet;
 * without one, the first start with an empty store generates a key and prints it once.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../config/AppConfig.ts"
import { ConfigError } from "../config/ConfigError.ts"
import { KeyStore } from "./KeyStore.ts"

const minimumKeyLength = 24
const adminKeyName = "admin (MCP_ADMIN_KEY)"

export const AdminBootstrap = Layer.effectDiscard(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const keys = yield* KeyStore
    const adminKey = config.current().security.adminKey
    if (adminKey !== undefined) {
      if (adminKey.length < minimumKeyLength) {
        return yield* new ConfigError({
          source: "MCP_ADMIN_KEY",
          problems: [`security.adminKey: expected at least ${minimumKeyLength} characters (generate one with: mcp-router keys create), got ${adminKey.length}`]
        })
      }
      const current = yield* keys.lookup(adminKey).pipe(Effect.orDie)
      const kept = current ?? (yield* keys.create({ name: adminKeyName, permissions: ["*"], key: adminKey }).pipe(Effect.orDie)).record
      if (current === undefined) yield* Effect.logInfo(`Stored the admin key from MCP_ADMIN_KEY as ${kept.id}`)
      // a rotated MCP_ADMIN_KEY retires the one before it
      for (const old of yield* keys.list.pipe(Effect.orDie)) {
        if (old.name === adminKeyName && old.id !== kept.id && old.revokedAt === null) {
          yield* keys.revoke(old.id).pipe(Effect.orDie)
          yield* Effect.logInfo(`Revoked ${old.id}, the admin key MCP_ADMIN_KEY held before`)
        }
      }
      return
    }
    if ((yield* keys.count.pipe(Effect.orDie)) > 0) return
    const { key, record } = yield* keys.create({ name: "admin (generated)", permissions: ["*"] }).pipe(Effect.orDie)
    // printed straight to stderr, never through the logger (which redacts keys) and never to stdout (stdio's protocol)
    process.stderr.write(
      `\nAdmin API Key: ${key}\n  (id ${record.id}; shown once, only its hash is stored: keep it now, or revoke it and create another)\n\n`
    )
  })
)

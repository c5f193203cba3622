/**
 * Turns the credentials of a request into a Caller's identity, and checks permissions. Keys come as
 * `Authorization: Bearer <key>`, `X-API-Key: <key>` or (when security.allowQueryApiKey) `?api_key=<key>`.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../config/AppConfig.ts"
import type { Caller } from "../router/Caller.ts"
import { IpGuard } from "./IpGuard.ts"
import { KeyStore, type KeyStoreError } from "./KeyStore.ts"
import { allows, describeRequirement, type Requirement } from "./permissions.ts"
import { PermissionDenied, Unauthenticated } from "./SecurityErrors.ts"
import { SecurityStats } from "./SecurityStats.ts"

export type Identity = Pick<Caller, "keyId" | "keyName" | "permissions"> & {
  /** The key's own rate limits, when it has them. */
  readonly ratePerMinute?: number | undefined
  readonly ratePerHour?: number | undefined
}

/** Without a required key every caller may do everything: the documented development mode. */
const anonymous: Identity = { permissions: ["*"] }

export const credentialFrom = (
  headers: Readonly<Record<string, string | undefined>>,
  url: string,
  allowQuery: boolean
): string | undefined => {
  const authorization = headers["authorization"]
  if (authorization !== undefined) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim())
    return match?.[1]?.trim() ?? authorization.trim()
  }
  if (headers["x-api-key"] !== undefined) return headers["x-api-key"].trim()
  if (!allowQuery) return undefined
  const query = url.indexOf("?")
  return query < 0 ? undefined : new URLSearchParams(url.slice(query + 1)).get("api_key") ?? undefined
}

export class Auth extends Context.Service<Auth, {
  readonly authenticate: (credential: string | undefined, ip: string) => Effect.Effect<Identity, Unauthenticated | KeyStoreError>
  readonly check: (caller: Identity, need: Requirement) => Effect.Effect<void, PermissionDenied>
}>()("mcp-router/security/Auth") {
  static readonly layer = Layer.effect(
    Auth,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const keys = yield* KeyStore
      const ipGuard = yield* IpGuard
      const stats = yield* SecurityStats
      const refuse = (reason: Unauthenticated["reason"], ip: string) =>
        Effect.suspend(() => {
          if (reason !== "missing") ipGuard.recordAuthFailure(ip)
          return stats.record("authFailure", reason).pipe(Effect.andThen(Effect.fail(new Unauthenticated({ reason }))))
        })
      return Auth.of({
        authenticate: (credential, ip) => {
          if (credential === undefined || credential === "") {
            return config.current().security.requireApiKey ? refuse("missing", ip) : Effect.succeed(anonymous)
          }
          return keys.lookup(credential).pipe(Effect.flatMap((record): Effect.Effect<Identity, Unauthenticated> => {
            if (record === undefined) return refuse("invalid", ip)
            if (record.revokedAt !== null) return refuse("revoked", ip)
            if (record.expiresAt !== null && Date.parse(record.expiresAt) <= Date.now()) return refuse("expired", ip)
            return keys.touch(record.id).pipe(Effect.as({
              keyId: record.id,
              keyName: record.name,
              permissions: record.permissions,
              ratePerMinute: record.ratePerMinute ?? undefined,
              ratePerHour: record.ratePerHour ?? undefined
            }))
          }))
        },
        check: (caller, need) =>
          allows(caller.permissions, need)
            ? Effect.void
            : stats.record("permissionDenied").pipe(
              Effect.andThen(Effect.fail(new PermissionDenied({ keyName: caller.keyName ?? "anonymous", needed: describeRequirement(need) })))
            )
      })
    })
  )
}

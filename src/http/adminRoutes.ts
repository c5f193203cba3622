/**
 * Administration over HTTP (admin permission, checked at the edge): GET /config (secrets redacted),
 * POST /config (runtime changes, API keys, rollback), GET /api/audit, and GET /api/security/stats.
 */
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import { AppConfig } from "../config/AppConfig.ts"
import { redactConfig, storableConfig, withLocalSettings } from "../config/redactConfig.ts"
import type { RouterConfigInput } from "../config/schema.ts"
import { redactValue } from "../logging/redact.ts"
import { adminErrorWire } from "../router/wire.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { AuditLog } from "../security/AuditLog.ts"
import { IpGuard } from "../security/IpGuard.ts"
import { KeyStore } from "../security/KeyStore.ts"
import { Permission } from "../security/permissions.ts"
import { SecurityStats } from "../security/SecurityStats.ts"
import { ConfigVersions } from "../storage/ConfigVersions.ts"
import { errorResponse, jsonResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { adminAccess, readAccess } from "./access.ts"

// settings whose values are secrets: the history keeps only that they changed
const secretPaths = /^(tools(\.apis|\.databases)?|security\.adminKey)(\.|$)/

const redactChanges = (changes: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(changes).map(([path, value]) => [path, secretPaths.test(path) ? "[REDACTED]" : redactValue(value)]))

const IsoTime = Schema.String.check(Schema.makeFilter((s: string) =>
  (/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(s) && !Number.isNaN(Date.parse(s))) || "Expected an ISO 8601 time such as 2027-01-01T00:00:00Z"))

const CreateApiKey = Schema.Struct({
  name: Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(100)),
  permissions: Schema.Array(Permission).check(Schema.isMinLength(1)),
  expiresAt: Schema.optionalKey(IsoTime),
  ratePerMinute: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))),
  ratePerHour: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })))
})
const RevokeApiKey = Schema.Struct({ id: Schema.String })
const Rollback = Schema.Struct({ version: Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)) })
const Versions = Schema.Struct({ limit: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 }))) })

const actions = new Set(["security.createApiKey", "security.revokeApiKey", "security.listApiKeys", "config.rollback", "config.versions"])

const AuditQueryParams = Schema.Struct({
  actor: Schema.optionalKey(Schema.String),
  action: Schema.optionalKey(Schema.String),
  target: Schema.optionalKey(Schema.String),
  outcome: Schema.optionalKey(Schema.Literals(["ok", "error", "denied"])),
  since: Schema.optionalKey(IsoTime),
  until: Schema.optionalKey(IsoTime),
  limit: Schema.optionalKey(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 1000 }))),
  offset: Schema.optionalKey(Schema.NumberFromString.check(Schema.isInt(), Schema.isGreaterThanOrEqualTo(0)))
})

const invalid = (message: string, details?: unknown) => errorResponse(400, "invalid_request", message, details)
const adminFailure = (error: { readonly _tag: string; readonly message: string }) => {
  const wire = adminErrorWire(error)
  return errorResponse(wire.status, wire.code, error.message)
}

const oneLine = (text: string) => text.replaceAll("\n", " ")

export const AdminRoutes = HttpRouter.use((router) =>
  Effect.gen(function*() {
    const guard = yield* AccessGuard
    const config = yield* AppConfig
    const keys = yield* KeyStore
    const audit = yield* AuditLog
    const versions = yield* ConfigVersions
    const stats = yield* SecurityStats
    const ipGuard = yield* IpGuard

    const actorOf = Effect.map(Effect.serviceOption(CurrentCaller), (c) => Option.match(c, { onNone: () => "local", onSome: (caller) => caller.keyId ?? "anonymous" }))
    const decode = <S extends Schema.Top & { readonly DecodingServices: never }>(schema: S, value: unknown) =>
      Schema.decodeUnknownEffect(schema)(value ?? {}, { onExcessProperty: "error", errors: "all" }).pipe(
        Effect.mapError((e) => invalid(oneLine(e.message)))
      )

    /** Applies changes through AppConfig's validation, then stores the result as a new version. */
    const applyChanges = (actor: string, changes: Record<string, unknown>, dryRun: boolean, action: string) =>
      Effect.suspend(() => {
        // the admin key is a start-up secret: it is never changed, stored or echoed at runtime
        const security = changes["security"]
        return "security.adminKey" in changes || (action !== "config.rollback" && security !== null && typeof security === "object" && "adminKey" in security)
          ? Effect.succeed(invalid("security.adminKey cannot be changed at runtime: set MCP_ADMIN_KEY and restart, or create admin keys with security.createApiKey"))
          : applyValidChanges(actor, changes, dryRun, action)
      })

    /** `recorded` is what the version history keeps of the change: secrets never. */
    const applyValidChanges = (
      actor: string,
      changes: Record<string, unknown>,
      dryRun: boolean,
      action: string,
      recorded: Record<string, unknown> = redactChanges(changes)
    ) =>
      config.update(changes, { dryRun }).pipe(
        Effect.flatMap(() =>
          dryRun
            ? Effect.succeed(jsonResponse({ applied: false, dryRun: true, changed: Object.keys(changes), config: redactConfig(config.encoded()) }))
            : versions.record(actor, recorded, storableConfig(config.encoded())).pipe(
              Effect.tap((version) =>
                Effect.sync(() => audit.record({ actor, action, target: Object.keys(changes).join(","), outcome: "ok", details: { version } }))
              ),
              Effect.map((version) => jsonResponse({ applied: true, version, changed: Object.keys(changes), config: redactConfig(config.encoded()) }))
            )
        ),
        Effect.catchTag("ConfigError", (error) => {
          audit.record({ actor, action, target: Object.keys(changes).join(","), outcome: "error", details: { problems: error.problems } })
          return Effect.succeed(errorResponse(400, "invalid_config", error.message, error.problems))
        })
      )

    const runAction = (actor: string, action: string, params: unknown) => {
      switch (action) {
        case "security.createApiKey":
          return decode(CreateApiKey, params).pipe(
            Effect.flatMap((input) => keys.create(input)),
            Effect.map(({ key, record }) => {
              audit.record({ actor, action: "key.create", target: record.id, outcome: "ok", details: { name: record.name, permissions: record.permissions } })
              return jsonResponse({ key, ...record, note: "The key is shown this once; only its hash is stored." }, 201)
            })
          )
        case "security.revokeApiKey":
          return decode(RevokeApiKey, params).pipe(
            Effect.flatMap(({ id }) => keys.revoke(id)),
            Effect.map((record) => {
              audit.record({ actor, action: "key.revoke", target: record.id, outcome: "ok" })
              return jsonResponse({ revoked: record })
            }),
          )
        case "security.listApiKeys":
          return Effect.map(keys.list, (list) => jsonResponse({ keys: list, count: list.length }))
        case "config.versions":
          return decode(Versions, params).pipe(
            Effect.flatMap(({ limit }) => versions.list(limit ?? 50)),
            Effect.map((list) => jsonResponse({ versions: list }))
          )
        default:
          return decode(Rollback, params).pipe(
            Effect.flatMap(({ version }) =>
              Effect.flatMap(versions.get(version), (stored) => {
                if (stored === undefined) return Effect.succeed(errorResponse(404, "not_found", `No configuration version ${version}; config.versions lists them`))
                // this router's address, storage settings and admin key stay as they are
                const restored = withLocalSettings(stored as RouterConfigInput, config.encoded()) as Record<string, unknown>
                return applyValidChanges(actor, restored, false, "config.rollback", { rollbackTo: version })
              })
            )
          )
      }
    }

    yield* router.addAll([guard.route("GET", "/config", adminAccess, Effect.sync(() => jsonResponse({ config: redactConfig(config.encoded()) })))])

    yield* router.addAll([guard.route("POST", "/config", adminAccess, Effect.gen(function*() {
      const actor = yield* actorOf
      const body = yield* (yield* HttpServerRequest.HttpServerRequest).json.pipe(Effect.option)
      if (Option.isNone(body) || body.value === null || typeof body.value !== "object" || Array.isArray(body.value)) {
        return invalid("Expected a JSON object of dotted paths (\"logging.level\": \"debug\") or one action (\"security.createApiKey\": {...})")
      }
      const { dryRun, ...entries } = body.value as Record<string, unknown>
      if (dryRun !== undefined && typeof dryRun !== "boolean") return invalid("dryRun: Expected boolean")
      const named = Object.keys(entries).filter((key) => actions.has(key))
      if (named.length > 0) {
        if (Object.keys(entries).length > 1) return invalid(`Send ${named[0]} on its own, not with other entries`)
        if (dryRun !== undefined) return invalid(`dryRun applies to configuration changes, not to ${named[0]}`)
        return yield* runAction(actor, named[0]!, entries[named[0]!])
      }
      if (Object.keys(entries).length === 0) return invalid("Nothing to change")
      return yield* applyChanges(actor, entries, dryRun === true, "config.update")
    }).pipe(
      // a failure is either a response already (a refusal) or a tagged error mapped in wire.ts
      Effect.catch((failure) => Effect.succeed(HttpServerResponse.isHttpServerResponse(failure) ? failure : adminFailure(failure)))
    ))])

    yield* router.addAll([guard.route("GET", "/api/audit", adminAccess, HttpServerRequest.schemaSearchParams(AuditQueryParams).pipe(
      Effect.flatMap((query) => audit.flush.pipe(Effect.andThen(audit.query({
        ...query,
        // stored times are UTC ISO strings; compare like with like
        since: query.since === undefined ? undefined : new Date(query.since).toISOString(),
        until: query.until === undefined ? undefined : new Date(query.until).toISOString(),
        limit: query.limit ?? 100,
        offset: query.offset ?? 0
      })))),
      Effect.map(({ entries, total }) => jsonResponse({ entries, total })),
      Effect.catchTag("SchemaError", (e) => Effect.succeed(invalid(`Invalid query: ${oneLine(e.message)}`))),
      Effect.catchTag("AuditError", (e) => Effect.succeed(adminFailure(e)))
    ))])

    yield* router.addAll([guard.route("GET", "/api/security/stats", readAccess, Effect.gen(function*() {
      const list = yield* keys.list
      const now = Date.now()
      const active = list.filter((k) => k.revokedAt === null && (k.expiresAt === null || Date.parse(k.expiresAt) > now))
      return jsonResponse({
        keys: { active: active.length, revoked: list.filter((k) => k.revokedAt !== null).length, total: list.length },
        events: stats.snapshot(),
        blockedIps: { configured: config.current().security.blockedIps, temporarilyBlocked: ipGuard.temporarilyBlocked() }
      })
    }).pipe(Effect.catchTag("KeyStoreError", (e) => Effect.succeed(adminFailure(e)))))])
  })
)

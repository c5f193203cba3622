/** `mcp-router keys create|list|revoke` and `mcp-router audit verify`, on the configured database. */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { AuditLog } from "../security/AuditLog.ts"
import { KeyStore } from "../security/KeyStore.ts"
import { Permission } from "../security/permissions.ts"

export type StorageLayer = (configFile: string | undefined) => Layer.Layer<KeyStore | AuditLog, unknown>

/** A command that could not do what was asked; its message is all the user needs to see. */
export class CommandFailed extends Schema.TaggedError<CommandFailed>()("CommandFailed", { message: Schema.String }) {}

const configFlag = Flag.String("config").pipe(Flag.withAlias("c"), Flag.withDescription("Configuration file"), Flag.optional)
const Permissions = Schema.Array(Permission).check(Schema.isMinLength(1))

export const makeStorageCommands = (storage: StorageLayer) => {
  const withStorage = <A, E>(config: Option.Option<string>, effect: Effect.Effect<A, E, KeyStore | AuditLog>) =>
    Effect.provide(effect, storage(Option.getOrUndefined(config)))

  const create = Command.make("create", {
    config: configFlag,
    name: Flag.String("name").pipe(Flag.withDescription("What the key is for")),
    permissions: Flag.String("permissions").pipe(Flag.withDescription("Comma list: read, execute, admin, *, tools:<glob>")),
    expiresAt: Flag.String("expires-at").pipe(Flag.withDescription("ISO 8601 time after which the key is refused"), Flag.optional),
    ratePerMinute: Flag.Int("rate-per-minute").pipe(Flag.optional),
    ratePerHour: Flag.Int("rate-per-hour").pipe(Flag.optional)
  }, (input) =>
    withStorage(input.config, Effect.gen(function*() {
      const permissions = yield* Schema.decodeUnknownEffect(Permissions)(input.permissions.split(",").map((p) => p.trim()).filter(Boolean)).pipe(
        Effect.mapError((e) => new CommandFailed({ message: `--permissions: ${e.message.replaceAll("\n", " ")}` }))
      )
      if (Option.isSome(input.expiresAt) && Number.isNaN(Date.parse(input.expiresAt.value))) {
        return yield* new CommandFailed({ message: `--expires-at: expected an ISO 8601 time, got ${input.expiresAt.value}` })
      }
      const { key, record } = yield* (yield* KeyStore).create({
        name: input.name,
        permissions,
        expiresAt: Option.getOrUndefined(input.expiresAt),
        ratePerMinute: Option.getOrUndefined(input.ratePerMinute),
        ratePerHour: Option.getOrUndefined(input.ratePerHour)
      })
      yield* Console.log(`API Key: ${key}\nid ${record.id}, permissions ${record.permissions.join(", ")} (shown once; only its hash is stored)`)
    }))).pipe(Command.withDescription("Create an API key and print it once"))

  const list = Command.make("list", { config: configFlag, json: Flag.Boolean("json").pipe(Flag.withDefault(false)) }, ({ config, json }) =>
    withStorage(config, Effect.gen(function*() {
      const keys = yield* (yield* KeyStore).list
      if (json) return yield* Console.log(JSON.stringify(keys, null, 2))
      for (const k of keys) {
        const state = k.revokedAt !== null ? "revoked" : k.expiresAt !== null && Date.parse(k.expiresAt) <= Date.now() ? "expired" : "active"
        yield* Console.log(`${k.id}  ${k.prefix}…  ${state.padEnd(7)}  ${k.permissions.join(",")}  ${k.name}`)
      }
    }))).pipe(Command.withDescription("List API keys (never the keys themselves)"))

  const revoke = Command.make("revoke", { config: configFlag, id: Argument.String("id") }, ({ config, id }) =>
    withStorage(config, Effect.gen(function*() {
      const record = yield* (yield* KeyStore).revoke(id)
      yield* Console.log(`Revoked ${record.id} (${record.name}) at ${record.revokedAt}`)
    }))).pipe(Command.withDescription("Revoke an API key by id; a running router refuses it within a second"))

  const verify = Command.make("verify", { config: configFlag }, ({ config }) =>
    withStorage(config, Effect.gen(function*() {
      const result = yield* (yield* AuditLog).verify
      if (!result.ok) return yield* new CommandFailed({ message: `Audit trail verification FAILED after ${result.checked} entries: ${result.problem}` })
      yield* Console.log(`Audit trail verified: ${result.checked} entries, chain intact`)
    }))).pipe(Command.withDescription(
      "Check the audit trail's hash chain and sequence numbers: exits 1 on an edited, reordered or deleted entry (a gap)"
    ))

  return [
    Command.make("keys").pipe(Command.withDescription("Manage API keys"), Command.withSubcommands([create, list, revoke])),
    Command.make("audit").pipe(Command.withDescription("Audit trail commands"), Command.withSubcommands([verify]))
  ] as const
}

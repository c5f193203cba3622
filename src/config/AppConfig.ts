/**
 * The running configuration: read on every request (cheap), replaced only through the same
 * validation that start-up uses, so an update is applied whole or not at all.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as SubscriptionRef from "effect/SubscriptionRef"
import * as path from "node:path"
import { ConfigError } from "./ConfigError.ts"
import { loadConfigWithFiles, setPath, validateConfig } from "./load.ts"
import { RouterConfig } from "./schema.ts"

const encodeConfig = Schema.encodeSync(RouterConfig)

export class AppConfig extends Context.Service<AppConfig, {
  /** The configuration in force now; synchronous, for hot paths. */
  readonly current: () => RouterConfig
  readonly get: Effect.Effect<RouterConfig>
  /** The configuration now, in file form. */
  readonly encoded: () => typeof RouterConfig.Encoded
  /** Applies dotted-path changes (`{"logging.level": "debug"}`) after validating the whole result. */
  readonly update: (
    changes: Readonly<Record<string, unknown>>,
    options?: { readonly dryRun?: boolean }
  ) => Effect.Effect<RouterConfig, ConfigError>
  /** The configuration now, then every applied change. */
  readonly changes: Stream.Stream<RouterConfig>
  /**
   * Absolute paths of the files the configuration was read from (the config file, a secret file named
   * by MCP_ADMIN_KEY_FILE); empty when it was given as input. The tools never reach them.
   */
  readonly files: ReadonlyArray<string>
}>()("mcp-router/config/AppConfig") {
  /** A service holding a configuration that was already validated. */
  static readonly make = (initial: RouterConfig, cwd: string, files: ReadonlyArray<string> = []) =>
    Effect.gen(function*() {
      const ref = yield* SubscriptionRef.make(initial)
      return AppConfig.of({
        current: () => SubscriptionRef.getUnsafe(ref),
        get: SubscriptionRef.get(ref),
        encoded: () => encodeConfig(SubscriptionRef.getUnsafe(ref)),
        update: (changes, options) =>
          Effect.gen(function*() {
            const draft = structuredClone(encodeConfig(SubscriptionRef.getUnsafe(ref))) as Record<string, unknown>
            const problems = Object.entries(changes).flatMap(([key, value]) => setPath(draft, key, value) ?? [])
            if (problems.length > 0) return yield* new ConfigError({ source: "update", problems })
            const next = yield* validateConfig(draft, "update", cwd)
            if (options?.dryRun !== true) yield* SubscriptionRef.set(ref, next)
            return next
          }),
        changes: SubscriptionRef.changes(ref),
        files
      })
    })

  /** Loads from `config/mcp-router.json` (or MCP_CONFIG) and the MCP_* environment of this process. */
  static readonly layerFromEnvironment = (options: { readonly file?: string | undefined } = {}) =>
    Layer.effect(
      AppConfig,
      Effect.gen(function*() {
        const cwd = process.cwd()
        const { config, files } = yield* loadConfigWithFiles({ env: process.env, cwd, file: options.file })
        return yield* AppConfig.make(config, cwd, files)
      })
    )

  /**
   * A configuration given as input (file form); for tests and embedding. `files` names the files it came
   * from, when an embedder read it from some, so the tools refuse them too.
   */
  static readonly layerFromInput = (
    input: unknown,
    cwd: string = process.cwd(),
    options: { readonly files?: ReadonlyArray<string> } = {}
  ) =>
    Layer.effect(
      AppConfig,
      Effect.flatMap(
        validateConfig(input, "input", cwd, new Map(), { createWorkingDir: true }),
        (config) => AppConfig.make(config, cwd, (options.files ?? []).map((file) => path.resolve(cwd, file)))
      )
    )
}

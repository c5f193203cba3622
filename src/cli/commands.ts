/**
 * The `mcp-router` command line: serve (default), stdio, config validate, keys, audit. Commands receive the layers
 * to launch from `main.ts`, which owns the wiring.
 */
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Argument from "effect/cli/Argument"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import { environmentVariables, loadConfig } from "../config/load.ts"
import { makeStorageCommands, type StorageLayer } from "./storageCommands.ts"

export interface Launchers {
  readonly serve: (configFile: string | undefined) => Layer.Layer<never, unknown, never>
  readonly stdio: (configFile: string | undefined) => Layer.Layer<never, unknown, never>
  readonly storage: StorageLayer
}

const configFlag = Flag.String("config").pipe(
  Flag.withAlias("c"),
  Flag.withDescription("Configuration file (default: MCP_CONFIG, else config/mcp-router.json when present)"),
  Flag.optional
)

export const makeCli = (launch: Launchers) => {
  const serve = Command.make("serve", { config: configFlag }, ({ config }) =>
    Layer.launch(launch.serve(Option.getOrUndefined(config)))).pipe(
      Command.withDescription("Run the HTTP server: MCP at /mcp, JSON-RPC at /api/mcp/jsonrpc, /health, /api/tools, /logs")
    )

  // building the stdio Layer serves until stdin ends; then everything is released and the process exits
  const stdio = Command.make("stdio", { config: configFlag }, ({ config }) =>
    Effect.scoped(Layer.build(launch.stdio(Option.getOrUndefined(config))))).pipe(
      Command.withDescription("Serve the same tools over stdio, for desktop clients that launch MCP servers")
    )

  const validate = Command.make(
    "validate",
    { file: Argument.String("file").pipe(Argument.withDescription("File to check (default: the usual sources)"), Argument.optional) },
    ({ file }) =>
      Effect.gen(function*() {
        const config = yield* loadConfig({ env: process.env, cwd: process.cwd(), file: Option.getOrUndefined(file) })
        yield* Console.log(`Configuration is valid: port ${config.server.port}, host ${config.server.host}, working directory ${config.tools.workingDir}`)
        const fromEnv = environmentVariables.filter((v) => process.env[v.name]).map((v) => v.name)
        if (fromEnv.length > 0) yield* Console.log(`Environment overrides: ${fromEnv.join(", ")}`)
      })
  ).pipe(Command.withDescription("Check a configuration file and the MCP_* environment, then exit"))

  const configCommand = Command.make("config").pipe(
    Command.withDescription("Configuration commands"),
    Command.withSubcommands([validate])
  )

  return Command.make("mcp-router", { config: configFlag }, ({ config }) => Layer.launch(launch.serve(Option.getOrUndefined(config)))).pipe(
    Command.withDescription("MCP Router Pro: one MCP endpoint for real tools and upstream MCP servers"),
    Command.withSubcommands([serve, stdio, configCommand, ...makeStorageCommands(launch.storage)])
  )
}

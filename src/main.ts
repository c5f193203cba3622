/**
 * Wires the Layer graph and launches the command line. Nothing here decides behaviour: each service
 * lives in its own module.
 */
// by module, not from the package index, which loads every integration (the Redis client among them)
import * as NodeRuntime from "@effect/platform-node/NodeRuntime"
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as CliError from "effect/cli/CliError"
import * as Command from "effect/cli/Command"
import * as HttpServerError from "effect/http/HttpServerError"
import { makeCli } from "./cli/commands.ts"
import { AppConfig } from "./config/AppConfig.ts"
import { HttpServerLayer } from "./http/HttpApp.ts"
import { makeLoggingLayer } from "./logging/Logging.ts"
import { McpEngine } from "./mcp/McpEngine.ts"
import { serveStdio } from "./mcp/stdioServer.ts"
import { Events } from "./observability/Events.ts"
import { Alerts } from "./observability/Alerts.ts"
import { Metrics } from "./observability/Metrics.ts"
import { Readiness } from "./observability/Readiness.ts"
import { Sampler } from "./observability/Sampler.ts"
import { TracingLayer } from "./observability/Tracing.ts"
import { ToolStats } from "./observability/ToolStats.ts"
import { Router } from "./router/Router.ts"
import { Upstreams } from "./upstreams/Upstreams.ts"
import { DockerToolsLayer } from "./tools/docker/DockerTools.ts"
import { AdminBootstrap } from "./security/AdminBootstrap.ts"
import { AuditLog, AuditRetention } from "./security/AuditLog.ts"
import { Auth } from "./security/Auth.ts"
import { IpGuard } from "./security/IpGuard.ts"
import { KeyStore } from "./security/KeyStore.ts"
import { KeyRevocations } from "./security/KeyRevocations.ts"
import { KeyWatch } from "./security/KeyWatch.ts"
import { RateLimits } from "./security/RateLimits.ts"
import { SecurityStats } from "./security/SecurityStats.ts"
import { SharedBus } from "./shared/SharedBus.ts"
import { ConfigVersions, RecordStartupConfig } from "./storage/ConfigVersions.ts"
import { DatabaseLayer } from "./storage/Database.ts"
import { FileToolsLayer } from "./tools/files/FileTools.ts"
import { ProcessSpawner } from "./tools/process/ProcessSpawner.ts"
import { ProcessToolsLayer } from "./tools/process/ProcessTools.ts"
import { Sandbox } from "./tools/Sandbox.ts"
import { SqlToolsLayer } from "./tools/sql/SqlTools.ts"
import { ToolRegistry } from "./tools/ToolRegistry.ts"
import { WebToolsLayer } from "./tools/web/WebTools.ts"
import { version } from "./version.ts"

/** Every built-in tool family. */
export const BuiltInToolsLayer = Layer.mergeAll(FileToolsLayer, ProcessToolsLayer, DockerToolsLayer, WebToolsLayer, SqlToolsLayer)

/** Tools a library user adds: Layers made with `ToolRegistry.provide`. */
export type ExtraTools<E = never> = Layer.Layer<never, E, ToolRegistry | Sandbox | ProcessSpawner | AppConfig>

/** Registry, sandbox, stats and the Router, with the built-in tools (and any extra ones) registered. */
export const routerCoreLayer = <E = never>(extraTools: ExtraTools<E> = Layer.empty as ExtraTools<E>) =>
  Router.layer.pipe(
    Layer.provideMerge(Layer.mergeAll(BuiltInToolsLayer, extraTools)),
    Layer.provideMerge(Layer.mergeAll(ToolRegistry.layer, ToolStats.layer, Sandbox.layer, ProcessSpawner.layer)),
    Layer.provide(NodeServices.layer)
  )

export const RouterCoreLayer = routerCoreLayer()

/** Keys (in the embedded database), authentication, address guard, rate limits and their counters. */
export const SecurityLayer = Layer.mergeAll(Auth.layer, KeyWatch.layer, RateLimits.layerMemory, AdminBootstrap, AuditRetention, RecordStartupConfig).pipe(
  // with Redis, revocations reach the other replicas at once
  Layer.provideMerge(KeyRevocations),
  Layer.provideMerge(Layer.mergeAll(KeyStore.layer, IpGuard.layer, SecurityStats.layer, AuditLog.layerWithSink, ConfigVersions.layer)),
  Layer.provideMerge(DatabaseLayer)
)

/** The HTTP server with everything behind it, on a given configuration. */
export const serverLayer = <E, E2 = never>(config: Layer.Layer<AppConfig, E>, extraTools?: ExtraTools<E2>) =>
  HttpServerLayer.pipe(
    // sampling reads the router's stats; readiness asks the database
    Layer.provide(Layer.merge(Sampler.layer.pipe(Layer.provideMerge(Alerts.layer)), Readiness.layer)),
    Layer.provide(Upstreams.layer),
    Layer.provide(routerCoreLayer(extraTools)),
    Layer.provide(NodeServices.layer),
    Layer.provide(SecurityLayer),
    Layer.provide(Layer.mergeAll(Metrics.layer, Events.layer)),
    // Redis (redis.url) shared by the replicas: limits, events, revocations; nothing of it loaded when unset
    Layer.provide(SharedBus.layer),
    // each router counts its own calls, even when several run in one process
    Layer.provide(Layer.sync(Metric.MetricRegistry, () => new Map())),
    Layer.provide(TracingLayer),
    Layer.provideMerge(makeLoggingLayer()),
    Layer.provide(config)
  )

/**
 * MCP over stdin/stdout; logs go to stderr so they never mix with the protocol. Building the Layer
 * serves until stdin ends.
 */
export const stdioLayer = <E, E2 = never>(config: Layer.Layer<AppConfig, E>, extraTools?: ExtraTools<E2>) =>
  Layer.effectDiscard(serveStdio()).pipe(
    Layer.provide(McpEngine.layer),
    Layer.provide(Upstreams.layer),
    Layer.provide(routerCoreLayer(extraTools)),
    // stdio calls are audited like every other entry point's
    Layer.provide(AuditLog.layerWithSink.pipe(Layer.provide(DatabaseLayer))),
    Layer.provide(NodeServices.layer),
    Layer.provideMerge(makeLoggingLayer({ toStderr: true })),
    Layer.provide(config)
  )

/** The database's stores alone, for the keys and audit commands. */
export const storageLayer = <E>(config: Layer.Layer<AppConfig, E>) =>
  Layer.mergeAll(KeyStore.layer, AuditLog.layer).pipe(Layer.provide(DatabaseLayer), Layer.provide(config))

const cli = makeCli({
  serve: (file) => serverLayer(AppConfig.layerFromEnvironment({ file })),
  stdio: (file) => stdioLayer(AppConfig.layerFromEnvironment({ file })),
  storage: (file) => storageLayer(AppConfig.layerFromEnvironment({ file }))
})

// failures whose message says all a user needs: no stack trace for these
const userFacing = new Set(["ConfigError", "CommandFailed", "KeyNotFound", "KeyStoreError", "AuditError", "MigrationError", "SqlError", "StorageUnavailable", "PostgresUnavailable"])

/** One readable line for the failures a user can fix (bad configuration, a port in use, ...); else undefined. */
const startupFailure = (error: unknown): string | undefined => {
  const tag = (error as { readonly _tag?: unknown })?._tag
  if (typeof tag === "string" && userFacing.has(tag)) return (error as Error).message
  if (error instanceof HttpServerError.ServeError) {
    const cause = error.cause as NodeJS.ErrnoException | undefined
    const fix = cause?.code === "EADDRINUSE"
      ? ": choose another server.port (MCP_PORT), or stop the program that holds it"
      : cause?.code === "EADDRNOTAVAIL" || cause?.code === "ENOTFOUND"
      ? ": set server.host (MCP_HOST) to an address of this machine, such as 127.0.0.1 or 0.0.0.0"
      : cause?.code === "EACCES"
      ? ": ports below 1024 need privileges; choose another server.port (MCP_PORT)"
      : ""
    return `Cannot start the HTTP server: ${cause?.message ?? String(error.cause)}${fix}`
  }
  return undefined
}

/** An unforeseen failure: one line, with the whole trace only at log level debug or trace. */
const unexpectedFailure = (error: unknown, cause: Cause.Cause<unknown>) =>
  ["debug", "trace"].includes(process.env["MCP_LOG_LEVEL"] ?? "")
    ? Cause.pretty(cause)
    : `The router failed: ${error instanceof Error ? error.message : String(error)} (set MCP_LOG_LEVEL=debug for the details)`

/** Runs the command line as this process: exits 0 after a signal-driven graceful shutdown, 1 on failure. */
export const main = () =>
  Command.run(cli, { version }).pipe(
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain({
      disableErrorReporting: true,
      // a signal is the normal way to stop a server: it exits 0 after a graceful shutdown
      teardown: (exit, onExit) => {
        if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return onExit(0)
        const error = Cause.squash(exit.cause)
        // the CLI has already shown its own error with the help text
        if (!CliError.isCliError(error)) process.stderr.write(`${startupFailure(error) ?? unexpectedFailure(error, exit.cause)}\n`)
        onExit(1)
      }
    })
  )

if (import.meta.main) main()

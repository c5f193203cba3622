/** The real Router with the Docker tools registered, on a configuration given per test. */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig } from "../../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../../src/main.ts"
import type { Caller } from "../../../src/router/Caller.ts"
import { Router } from "../../../src/router/Router.ts"
import type { ToolOutput } from "../../../src/tools/ToolDefinition.ts"

const caller: Caller = { transport: "http", permissions: ["*"] }
const workingDir = fs.realpathSync(os.tmpdir())

export const dockerLayer = (tools: Record<string, unknown>) =>
  RouterCoreLayer.pipe(
    Layer.provideMerge(AppConfig.layerFromInput({ tools: { workingDir, ...tools }, logging: { enableConsole: false } }))
  )

/** Calls docker_ps through the Router with `tools` as the tools section of the configuration. */
export const dockerPs = (args: unknown, tools: Record<string, unknown>) =>
  Router.use((router) => router.call(caller, "docker_ps", args)).pipe(Effect.provide(dockerLayer(tools)))

export const textOf = (output: ToolOutput) => output.content.map((block) => block.text).join("\n")

export interface ContainerView {
  readonly id: string
  readonly names: ReadonlyArray<string>
  readonly image: string
  readonly state: string
  readonly status: string
  readonly ports: ReadonlyArray<string>
  readonly created: string
}

export const containersOf = (output: ToolOutput) => (output.structuredContent?.["containers"] ?? []) as ReadonlyArray<ContainerView>

/** A socket path in a folder that does not exist. */
export const missingSocketPath = () => path.join(os.tmpdir(), `mcp-docker-absent-${process.pid}-${Date.now()}`, "docker.sock")

/** The Docker tool family; offered only with `tools.enableReal`, as it reaches a daemon outside the working folder. */
import * as Effect from "effect/Effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { inFamily } from "../ToolDefinition.ts"
import { ToolRegistry } from "../ToolRegistry.ts"
import { dockerPsTool } from "./dockerPs.ts"

export const DockerToolsLayer = ToolRegistry.provide(
  Effect.gen(function*() {
    const enableReal = (yield* AppConfig).current().tools.enableReal
    return enableReal ? inFamily("network", [yield* dockerPsTool]) : []
  })
)

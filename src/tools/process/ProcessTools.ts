/** Tools that run programs: execute_command and git_status (only with tools.enableReal). */
import * as Effect from "effect/Effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { gitStatusTool } from "../git/gitStatus.ts"
import { inFamily } from "../ToolDefinition.ts"
import { ToolRegistry } from "../ToolRegistry.ts"
import { executeCommandTool } from "./executeCommand.ts"

export const ProcessToolsLayer = ToolRegistry.provide(
  Effect.gen(function*() {
    if (!(yield* AppConfig).current().tools.enableReal) return []
    return inFamily("process", [yield* executeCommandTool, yield* gitStatusTool])
  })
)

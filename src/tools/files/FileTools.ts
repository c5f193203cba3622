/** The file tool family; with `tools.enableReal=false` only the read-only tools are offered. */
import * as Effect from "effect/Effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { inFamily } from "../ToolDefinition.ts"
import { ToolRegistry } from "../ToolRegistry.ts"
import { listDirectoryTool } from "./listDirectory.ts"
import { readFileTool } from "./readFile.ts"
import { searchFilesTool } from "./searchFiles.ts"
import { writeFileTool } from "./writeFile.ts"

export const FileToolsLayer = ToolRegistry.provide(
  Effect.gen(function*() {
    const enableReal = (yield* AppConfig).current().tools.enableReal
    // a search runs in a worker thread: those are bounded by tools.concurrency.search
    const readOnly = [yield* readFileTool, yield* listDirectoryTool, ...inFamily("search", [yield* searchFilesTool])]
    return enableReal ? [...readOnly, yield* writeFileTool] : readOnly
  })
)

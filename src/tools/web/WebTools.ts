/** The web tool family (fetch_url, api_call); offered only with `tools.enableReal`, as they reach the network. */
import * as Effect from "effect/Effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { inFamily } from "../ToolDefinition.ts"
import { ToolRegistry } from "../ToolRegistry.ts"
import { apiCallTool } from "./apiCall.ts"
import { fetchUrlTool } from "./fetchUrl.ts"

export const WebToolsLayer = ToolRegistry.provide(
  Effect.gen(function*() {
    const enableReal = (yield* AppConfig).current().tools.enableReal
    return enableReal ? inFamily("network", [yield* fetchUrlTool, yield* apiCallTool]) : []
  })
)

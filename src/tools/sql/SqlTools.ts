/**
 * The sql_query tool, offered only when `tools.enableReal` is true and at least one database is
 * configured: with enableReal false the router promises only read-only file tools, and with no
 * database a tool that can only fail would just cost clients a tools/list entry.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { AppConfig } from "../../config/AppConfig.ts"
import { inFamily } from "../ToolDefinition.ts"
import { ToolRegistry } from "../ToolRegistry.ts"
import { Databases } from "./Databases.ts"
import { sqlQueryTool } from "./sqlQuery.ts"

const registerSqlQuery = ToolRegistry.provide(Effect.map(sqlQueryTool, (tool) => inFamily("sql", [tool]))).pipe(Layer.provide(Databases.layer))

export const SqlToolsLayer = Layer.unwrap(
  Effect.gen(function*() {
    const { enableReal, databases } = (yield* AppConfig).current().tools
    return enableReal && databases.length > 0 ? registerSqlQuery : Layer.empty
  })
)

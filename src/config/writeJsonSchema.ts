/** Writes config/mcp-router.schema.json from the configuration Schema (npm run schema). */
import * as Schema from "effect/Schema"
import * as fs from "node:fs"
import { RouterConfig } from "./schema.ts"

export const configJsonSchema = (): string => {
  const document = Schema.toJsonSchemaDocument(RouterConfig, { onExcessProperty: "error" })
  const schema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://github.com/mcp-router-pro/mcp-router-pro/config/mcp-router.schema.json",
    ...document.schema,
    // "$schema" in the config file points editors here; the loader ignores it
    properties: { $schema: { type: "string" }, ...(document.schema as { properties: object }).properties },
    ...(Object.keys(document.definitions).length > 0 ? { $defs: document.definitions } : {})
  }
  return `${JSON.stringify(schema, null, 2)}\n`
}

export const schemaFile = new URL("../../config/mcp-router.schema.json", import.meta.url)

if (import.meta.main) {
  fs.writeFileSync(schemaFile, configJsonSchema())
  console.log(`wrote ${schemaFile.pathname}`)
}

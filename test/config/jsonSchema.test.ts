import { Effect } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { loadConfig } from "../../src/config/load.ts"
import { configJsonSchema, schemaFile } from "../../src/config/writeJsonSchema.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const committedSchemaPath = path.join(root, "config/mcp-router.schema.json")
const examplePath = path.join(root, "config/mcp-router.json")

interface JsonSchemaNode {
  readonly type?: string
  readonly additionalProperties?: unknown
  readonly default?: unknown
  readonly minimum?: number
  readonly maximum?: number
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>
}

const generated = JSON.parse(configJsonSchema()) as JsonSchemaNode
// the object sections; upstreams is a list of them
const sections = Object.entries(generated.properties ?? {}).filter(([key]) => key !== "$schema" && key !== "upstreams")

describe("config/mcp-router.schema.json", () => {
  it("is the file that writeJsonSchema.ts writes", () => {
    expect(fileURLToPath(schemaFile)).toBe(committedSchemaPath)
  })

  it("is in sync with the configuration Schema", () => {
    expect(
      fs.readFileSync(committedSchemaPath, "utf8"),
      "config/mcp-router.schema.json is out of date: run `npm run schema` and commit the result"
    ).toBe(configJsonSchema())
  })

  it("forbids unknown keys at the root and in every section", () => {
    expect(generated.additionalProperties).toBe(false)
    expect(sections.map(([key]) => key)).toEqual(["server", "security", "logging", "tools", "monitoring", "websocket", "mcp", "storage", "redis"])
    for (const [key, section] of sections) {
      expect(section.additionalProperties, `${key}.additionalProperties`).toBe(false)
    }
  })

  it("describes server.port with its default and range", () => {
    const port = generated.properties?.["server"]?.properties?.["port"]
    expect(port?.type).toBe("integer")
    expect(port?.default).toBe(3001)
    expect(port?.minimum).toBe(0)
    expect(port?.maximum).toBe(65535)
  })

  it("allows the \"$schema\" key that editors use", () => {
    expect(generated.properties?.["$schema"]).toEqual({ type: "string" })
  })

  it("shows a default for every key but the optional ones (security.adminKey, monitoring.otlpEndpoint, storage.url, redis.url)", () => {
    const withoutDefault = sections.flatMap(([key, section]) =>
      Object.entries(section.properties ?? {}).filter(([, property]) => property.default === undefined).map(([name]) => `${key}.${name}`))
    expect(withoutDefault).toEqual([
      "security.adminKey",
      "monitoring.otlpEndpoint",
      "storage.url",
      "redis.url"
    ])
  })

  it("shows the same defaults that the loader applies", async () => {
    const fromDefaults = Object.fromEntries(sections.map(([key, section]) => [
      key,
      Object.fromEntries(
        Object.entries(section.properties ?? {})
          .filter(([, property]) => property.default !== undefined)
          .map(([name, property]) => [name, property.default])
      )
    ]))
    const cwd = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mcp-router-schema-")))
    try {
      fs.writeFileSync(path.join(cwd, "defaults.json"), JSON.stringify(fromDefaults))
      const withSchemaDefaults = await Effect.runPromise(loadConfig({ env: {}, cwd, file: "defaults.json" }))
      const withoutFile = await Effect.runPromise(loadConfig({ env: {}, cwd }))
      expect(withSchemaDefaults).toEqual(withoutFile)
    } finally {
      fs.rmSync(cwd, { recursive: true, force: true })
    }
  })
})

describe("config/mcp-router.json", () => {
  it("points editors at the schema file", () => {
    const example = JSON.parse(fs.readFileSync(examplePath, "utf8")) as Record<string, unknown>
    expect(example["$schema"]).toBe("./mcp-router.schema.json")
  })

  it("is a valid configuration", async () => {
    const config = await Effect.runPromise(loadConfig({ env: {}, cwd: root, file: "config/mcp-router.json" }))
    expect(config.server.port).toBe(3001)
    expect(config.security.allowedOrigins).toEqual(["http://localhost:6274"])
    // the shipped configuration uses a dedicated workspace folder, created on first start
    expect(config.tools.workingDir).toBe(path.join(fs.realpathSync(root), "workspace"))
  })
})

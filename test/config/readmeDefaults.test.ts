/**
 * The configuration table of README.md against the Schema and the shipped config/mcp-router.json: every
 * documented default is the Schema's (decoded from `{}`), every documented key exists, every key of the
 * shipped config is documented with the value it ships, and the documented MCP_* variables set that key.
 * So the README cannot drift from the code.
 */
import { Schema } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"
import { environmentVariables } from "../../src/config/load.ts"
import { RouterConfig } from "../../src/config/schema.ts"
import { configJsonSchema } from "../../src/config/writeJsonSchema.ts"

const root = fileURLToPath(new URL("../../", import.meta.url))
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8")
const shipped = JSON.parse(fs.readFileSync(path.join(root, "config/mcp-router.json"), "utf8")) as Record<string, unknown>
const defaults = Schema.decodeUnknownSync(RouterConfig)({}) as unknown as Record<string, unknown>

interface JsonSchemaNode {
  readonly properties?: Readonly<Record<string, JsonSchemaNode>>
  readonly $ref?: string
}
const jsonSchema = JSON.parse(configJsonSchema()) as JsonSchemaNode & { readonly $defs?: Readonly<Record<string, JsonSchemaNode>> }

/** Whether the Schema has a key at `dotted` (optional keys without a default included). */
const schemaHasKey = (dotted: string): boolean => {
  let node: JsonSchemaNode | undefined = jsonSchema
  for (const key of dotted.split(".")) {
    while (node?.$ref !== undefined) node = jsonSchema.$defs?.[node.$ref.split("/").pop()!]
    node = node?.properties?.[key]
  }
  return node !== undefined
}

const valueAt = (object: unknown, dotted: string): unknown =>
  dotted.split(".").reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), object)

const hasPath = (object: unknown, dotted: string): boolean => {
  const keys = dotted.split(".")
  const parent = valueAt(object, keys.slice(0, -1).join("."))
  return keys.length === 1 ? Object.hasOwn(object as object, dotted) : parent !== null && typeof parent === "object" && Object.hasOwn(parent, keys.at(-1)!)
}

/** Every key path of a JSON object's leaves (arrays and empty objects are leaves); "$schema" is not configuration. */
const leafPaths = (object: Record<string, unknown>, prefix = ""): Array<string> =>
  Object.entries(object).flatMap(([key, value]) => {
    if (key === "$schema") return []
    const dotted = prefix === "" ? key : `${prefix}.${key}`
    return value !== null && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length > 0
      ? leafPaths(value as Record<string, unknown>, dotted)
      : [dotted]
  })

interface Row {
  readonly key: string
  /** The documented default as written (backticks removed); undefined for "—" (no default). */
  readonly text: string | undefined
  /** The value the shipped config uses, when the row says it differs: "(shipped config: ...)". */
  readonly shippedText: string | undefined
  readonly environment: ReadonlyArray<string>
  readonly line: string
}

/** The rows of the table under "## Configuration" whose header is | Key | Default | Environment | Meaning |. */
const parseTable = (): ReadonlyArray<Row> => {
  const section = readme.slice(readme.indexOf("\n## Configuration\n"))
  const lines = section.split("\n")
  const header = lines.findIndex((line) => /^\| Key \| Default \| Environment \| Meaning \|$/.test(line))
  if (header < 0) throw new Error("README.md: the configuration table (| Key | Default | Environment | Meaning |) is missing")
  const rows: Array<Row> = []
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith("|")) break
    // cells are separated by "|" (an escaped "\|" belongs to its cell)
    const cells = line.trim().slice(1, -1).split(/(?<!\\)\|/).map((cell) => cell.trim())
    if (cells.length !== 4) throw new Error(`README.md: a configuration row without 4 cells: ${line}`)
    const [keyCell, defaultCell, envCell] = cells as [string, string, string, string]
    const keys = keyCell.split(" / ").map((k) => k.replace(/`/g, ""))
    const first = keys[0]!
    const section = first.split(".").slice(0, -1).join(".")
    const fullKeys = [first, ...keys.slice(1).map((k) => `${section}.${k}`)]
    const shippedMatch = /^(.*?) \(shipped config: (.*)\)$/.exec(defaultCell)
    const documented = shippedMatch?.[1] ?? defaultCell
    const values = fullKeys.length === 1 ? [documented] : documented.split(" / ")
    if (values.length !== fullKeys.length) throw new Error(`README.md: ${fullKeys.length} keys but ${values.length} defaults: ${line}`)
    const environment = Array.from(envCell.matchAll(/`(MCP_[A-Z_]+)`/g), (m) => m[1]!)
    fullKeys.forEach((key, i) => {
      const value = values[i]!.replace(/`/g, "").trim()
      rows.push({
        key,
        text: value === "—" ? undefined : value,
        shippedText: shippedMatch === null ? undefined : shippedMatch[2]!.replace(/`/g, "").trim(),
        environment: fullKeys.length === 1 ? environment : [],
        line
      })
    })
  }
  return rows
}

/** The documented text as a value of the same kind as `like` (the Schema's default). */
const parseAs = (text: string, like: unknown): unknown => {
  if (Array.isArray(like)) return text === "[]" ? [] : text.split(",").map((item) => item.trim())
  if (typeof like === "number") {
    const mib = /^(\d+) MiB$/.exec(text)
    return mib ? Number(mib[1]) * 1024 * 1024 : /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text
  }
  if (typeof like === "boolean") return text === "true" ? true : text === "false" ? false : text
  if (like !== null && typeof like === "object") return text === "{}" ? {} : text
  return text
}

const rows = parseTable()

describe("README.md configuration table", () => {
  it("is found and documents the keys this task relies on", () => {
    const keys = rows.map((row) => row.key)
    for (const key of ["tools.workingDir", "tools.allowedCommands", "storage.dataDir", "logging.logDir", "security.allowedOrigins"]) {
      expect(keys).toContain(key)
    }
    expect(new Set(keys).size, "a key is documented twice").toBe(keys.length)
  })

  it("names only keys the Schema has", () => {
    expect(rows.filter((row) => !schemaHasKey(row.key)).map((row) => row.key)).toEqual([])
  })

  for (const row of rows) {
    it(`${row.key}: the documented default is the Schema's`, () => {
      const actual = valueAt(defaults, row.key)
      if (row.text === undefined) {
        expect(actual, `${row.key} is documented without a default ("—")`).toBeUndefined()
        return
      }
      expect(actual, `${row.key} has no Schema default`).not.toBeUndefined()
      expect(parseAs(row.text, actual), row.line).toEqual(actual)
    })
  }

  it("documents every key of config/mcp-router.json, with the value it ships", () => {
    const byKey = new Map(rows.map((row) => [row.key, row]))
    for (const key of leafPaths(shipped)) {
      const row = byKey.get(key)
      expect(row, `config/mcp-router.json sets ${key}, which the README table does not document`).toBeDefined()
      const shippedValue = valueAt(shipped, key)
      const documented = row!.shippedText ?? row!.text
      expect(documented, `${key}: the README documents no value, the shipped config has ${JSON.stringify(shippedValue)}`).toBeDefined()
      expect(parseAs(documented!, shippedValue), `${key} in config/mcp-router.json: ${row!.line}`).toEqual(shippedValue)
    }
  })

  it("says \"shipped config\" only where the shipped config differs from the default", () => {
    for (const row of rows.filter((row) => row.shippedText !== undefined)) {
      expect(hasPath(shipped, row.key), `${row.key}: not in config/mcp-router.json`).toBe(true)
      expect(valueAt(shipped, row.key)).not.toEqual(valueAt(defaults, row.key))
    }
  })

  it("names, for each key, the MCP_* variables that set it", () => {
    for (const row of rows) {
      for (const name of row.environment) {
        const variable = environmentVariables.find((v) => v.name === name)
        expect(variable, `${row.key}: ${name} is not a variable the router reads`).toBeDefined()
        expect(variable!.path, `${name} sets ${variable!.path}, not ${row.key}`).toBe(row.key)
      }
    }
    // and every variable that sets a documented key is documented on its row
    const documented = new Set(rows.map((row) => row.key))
    for (const variable of environmentVariables.filter((v) => documented.has(v.path))) {
      expect(rows.find((row) => row.key === variable.path)!.environment, `${variable.name} is missing on the ${variable.path} row`).toContain(variable.name)
    }
  })

  it("the shipped workspace and allowlist are the defaults: a dedicated folder, no network programs", () => {
    const tools = defaults["tools"] as { workingDir: string; allowedCommands: ReadonlyArray<string> }
    expect(tools.workingDir).toBe("workspace")
    expect(tools.allowedCommands).toEqual(["ls", "cat", "head", "tail", "grep", "find", "git", "docker"])
    expect(valueAt(shipped, "tools.workingDir")).toBe("workspace")
    expect(valueAt(shipped, "tools.allowedCommands")).toEqual(tools.allowedCommands)
  })
})

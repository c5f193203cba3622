/** sql_query end to end: the official MCP SDK client over Streamable HTTP against the real router. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "../../support/server.ts"
import { postgresUrl, skipMessage } from "./postgresServer.ts"
import { makeSqliteFolder, people } from "./support.ts"

const requestTimeoutMs = 10_000

let folder: ReturnType<typeof makeSqliteFolder>
let server: RunningServer
let client: Client

beforeAll(async () => {
  folder = makeSqliteFolder()
  const databases = [
    { name: "app", url: "sqlite:app.db" },
    { name: "rw", url: "sqlite:app.db", readOnly: false },
    ...(postgresUrl === undefined ? [] : [{ name: "pg", url: postgresUrl }])
  ]
  server = await startServer({ tools: { workingDir: folder.root, databases } })
  client = new Client({ name: "sql-e2e", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)), { timeout: requestTimeoutMs })
})
afterAll(async () => {
  await client?.close()
  await server?.close()
  folder?.cleanup()
})

const call = (args: Record<string, unknown>) =>
  client.callTool({ name: "sql_query", arguments: args }, undefined, { timeout: requestTimeoutMs }) as Promise<any>

const text = (result: any): string => result.content.map((c: any) => c.text).join("\n")

describe("sql_query through the MCP SDK client", () => {
  it("is listed with an object input schema and annotations", async () => {
    const { tools } = await client.listTools()
    const tool = tools.find((t) => t.name === "sql_query")
    expect(tool).toBeDefined()
    expect(tool!.inputSchema).toMatchObject({ type: "object", required: ["database", "query"] })
    expect(Object.keys(tool!.inputSchema.properties ?? {})).toEqual(["database", "query", "params"])
    // one configured database is writable
    expect(tool!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true })
    expect(tool!.description).toContain("app (sqlite, read-only)")
  })

  it("runs a SELECT with bound parameters and returns structured rows", async () => {
    const result = await call({ database: "app", query: "SELECT name FROM people WHERE age BETWEEN ? AND ? ORDER BY age", params: [40, 55] })
    expect(result.isError).toBeFalsy()
    expect(result.structuredContent).toMatchObject({
      database: "app",
      columns: ["name"],
      rows: [["Grace"], ["Ken"]],
      rowCount: 2,
      truncated: false
    })
    expect(JSON.parse(text(result))).toEqual(result.structuredContent)
  })

  it("a write on a read-only database is an isError result; the writable one takes it", async () => {
    const refused = await call({ database: "app", query: "DELETE FROM people" })
    expect(refused.isError).toBe(true)
    expect(text(refused)).toContain(`Database "app" is read-only`)
    const inserted = await call({ database: "rw", query: "INSERT INTO people (name, age) VALUES (?, ?)", params: ["Eve", 30] })
    expect(inserted.isError).toBeFalsy()
    expect(inserted.structuredContent.rowCount).toBe(1)
    const counted = await call({ database: "app", query: "SELECT count(*) AS n FROM people" })
    expect(counted.structuredContent.rows).toEqual([[people.length + 1]])
  })

  it("an unknown database and parameters of the wrong type come back as errors the model can read", async () => {
    const unknown = await call({ database: "nope", query: "SELECT 1" })
    expect(unknown.isError).toBe(true)
    expect(text(unknown)).toContain(`Unknown database "nope"`)
    const invalid = await call({ database: "app", query: "SELECT ?", params: [{ nested: true }] })
    expect(invalid.isError).toBe(true)
    expect(text(invalid)).toContain("params")
  })

  it.skipIf(postgresUrl === undefined)(`runs on PostgreSQL too ${postgresUrl === undefined ? `(${skipMessage})` : ""}`, async () => {
    const result = await call({ database: "pg", query: "SELECT $1::int + 1 AS next", params: [41] })
    expect(result.isError).toBeFalsy()
    expect(result.structuredContent).toMatchObject({ columns: ["next"], rows: [[42]] })
    const refused = await call({ database: "pg", query: "CREATE TABLE never_made (x int)" })
    expect(refused.isError).toBe(true)
    expect(text(refused)).toContain(`Database "pg" is read-only`)
  })
})

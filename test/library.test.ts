/** The README's library example: a user's tool, added with a Layer, served next to the built-in ones. */
import { Effect, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { defineTool, jsonOutput, ToolRegistry } from "../src/index.ts"
import { type RunningServer, startServer } from "./support/server.ts"

const Greet = ToolRegistry.provide(Effect.succeed([
  defineTool({
    name: "greet",
    description: "Say hello",
    input: Schema.Struct({ name: Schema.String }),
    annotations: { readOnlyHint: true, openWorldHint: false },
    handler: ({ name }) => Effect.succeed(jsonOutput({ greeting: `Hello, ${name}` }))
  })
]))

const rpc = (server: RunningServer, body: unknown) =>
  fetch(`${server.url}/api/mcp/jsonrpc`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
    .then((r) => r.json() as Promise<any>)

describe("library use", () => {
  let server: RunningServer
  beforeAll(async () => {
    server = await startServer({}, Greet)
  })
  afterAll(() => server.close())

  it("lists the user's tool beside the built-in ones, with its JSON Schema from the Schema", async () => {
    const reply = await rpc(server, { jsonrpc: "2.0", id: 1, method: "tools/list" })
    const names = reply.result.tools.map((t: { name: string }) => t.name)
    expect(names).toEqual(expect.arrayContaining(["read_file", "write_file", "greet"]))
    const greet = reply.result.tools.find((t: { name: string }) => t.name === "greet")
    expect(greet.inputSchema).toMatchObject({ type: "object", required: ["name"], properties: { name: { type: "string" } } })
  })

  it("calls it through the same path, arguments checked by its Schema", async () => {
    const ok = await rpc(server, { jsonrpc: "2.0", id: 2, method: "tools/call", params: { name: "greet", arguments: { name: "Ada" } } })
    expect(ok.result.structuredContent).toEqual({ greeting: "Hello, Ada" })
    const bad = await rpc(server, { jsonrpc: "2.0", id: 3, method: "tools/call", params: { name: "greet", arguments: { name: 7 } } })
    expect(bad.error.code).toBe(-32602)
    expect(bad.error.message).toContain("name")
  })

  it("refuses a second tool with a taken name", async () => {
    const clash = ToolRegistry.provide(Effect.succeed([
      defineTool({
        name: "read_file",
        description: "clash",
        input: Schema.Struct({}),
        annotations: { readOnlyHint: true, openWorldHint: false },
        handler: () => Effect.succeed(jsonOutput({}))
      })
    ]))
    await expect(startServer({}, clash)).rejects.toThrow(/read_file" is registered twice/)
  })
})

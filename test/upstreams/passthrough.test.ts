/**
 * What upstream tools answer and list reaches the router's side exactly as the upstream sent it: image,
 * audio, embedded resources and blobs, resource links, structured content, a result's _meta; a tool's
 * title, annotations, outputSchema, icons and _meta. Each is compared with what
 * the SDK's own client gets from a fresh copy of the same server.
 */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js"
import { ResultSchema } from "@modelcontextprotocol/sdk/types.js"
import { describe, expect, it } from "vitest"
import { toCallToolResult, toToolListing } from "../../src/router/wire.ts"
import { cleanupAfterEach, everythingServer, fixture, stdio, WAIT_MS } from "./support.ts"
import { cleanupRuntimesAfterEach, makeRouter } from "./service.ts"

cleanupAfterEach()
cleanupRuntimesAfterEach()

const richServer = fixture("richServer.mjs")

/** An SDK client straight on a fresh server: raw JSON-RPC results, as the server wrote them. */
const direct = async (args: Array<string>) => {
  const client = new Client({ name: "direct", version: "1.0.0" }, { capabilities: { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: false } } })
  await client.connect(new StdioClientTransport({ command: process.execPath, args, stderr: "ignore" }), { timeout: WAIT_MS })
  return {
    call: (name: string, input: Record<string, unknown> = {}) =>
      client.request({ method: "tools/call", params: { name, arguments: input } }, ResultSchema, { timeout: WAIT_MS }),
    tools: async () => (await client.request({ method: "tools/list" }, ResultSchema, { timeout: WAIT_MS })).tools as Array<Record<string, unknown>>,
    close: () => client.close()
  }
}

/** A tools/call result as the router puts it on the wire, without the `isError: false` it spells out. */
const wire = (output: Parameters<typeof toCallToolResult>[0]) => {
  const { isError, ...rest } = toCallToolResult(output)
  return isError ? { ...rest, isError } : rest
}

describe("server-everything's results", () => {
  it("come back byte for byte as the SDK client gets them", async () => {
    const router = await makeRouter([{ name: "ev", transport: stdio(everythingServer, "stdio") }])
    await router.whenUp("ev")
    const straight = await direct([everythingServer, "stdio"])
    try {
      const cases: Array<[string, Record<string, unknown>]> = [
        ["get-tiny-image", {}],
        ["get-annotated-message", { messageType: "success", includeImage: true }],
        ["get-structured-content", { location: "New York" }],
        ["get-resource-links", { count: 4 }],
        ["echo", { message: "héllo ✓ \u0000 \"quoted\"" }]
      ]
      for (const [tool, input] of cases) {
        const routed = await router.call(`ev__${tool}`, input)
        expect(JSON.stringify(wire(routed)), tool).toBe(JSON.stringify(await straight.call(tool, input)))
      }
      // embedded resources carry a timestamp: the same blocks, with the blob's bytes intact
      const routed = await router.call("ev__get-resource-reference", { resourceType: "Blob", resourceId: 3 })
      const own = await straight.call("get-resource-reference", { resourceType: "Blob", resourceId: 3 }) as any
      const embedded = routed.content[1] as any
      expect(Object.keys(embedded.resource).sort()).toEqual(Object.keys(own.content[1].resource).sort())
      expect(embedded.resource.uri).toBe(own.content[1].resource.uri)
      expect(Buffer.from(embedded.resource.blob, "base64").toString()).toMatch(/^Resource 3: This is a base64 blob created at /)
    } finally {
      await straight.close()
    }
  })

  it("are listed with the upstream's title, annotations and outputSchema", async () => {
    const router = await makeRouter([{ name: "ev", transport: stdio(everythingServer, "stdio") }])
    await router.whenUp("ev", "ev__get-structured-content")
    const straight = await direct([everythingServer, "stdio"])
    try {
      const own = (await straight.tools()).find((t) => t.name === "get-structured-content")!
      const listed = toToolListing(await router.tool("ev__get-structured-content")) as Record<string, unknown>
      expect(listed.outputSchema).toEqual(own.outputSchema)
      expect(listed.title).toBe(own.title)
      expect(listed.annotations).toEqual(own.annotations)
      expect(listed.inputSchema).toEqual(own.inputSchema)
      expect(listed.description).toBe(`[ev] ${own.description}`)
    } finally {
      await straight.close()
    }
  })
})

describe("a server answering raw JSON", () => {
  it("passes audio, links, blobs and _meta through, and lists icons and _meta", async () => {
    const router = await makeRouter([{ name: "rich", transport: stdio(richServer) }])
    await router.whenUp("rich")
    const straight = await direct([richServer])
    try {
      const routed = await router.call("rich__sound")
      const own = await straight.call("sound")
      // the same JSON (the SDK's result Schema puts _meta first)
      expect(wire(routed)).toStrictEqual(own)
      expect(routed._meta).toEqual({ "fixture/trace": "t-1" })
      expect((routed.content[0] as any)).toMatchObject({ type: "audio", mimeType: "audio/wav", _meta: { "fixture/clip": 1 } })
      expect(Buffer.from((routed.content[2] as any).resource.blob, "base64")).toEqual(Buffer.from(Array.from({ length: 256 }, (_, i) => i)))

      const tool = (await straight.tools()).find((t) => t.name === "sound")!
      const listed = toToolListing(await router.tool("rich__sound")) as Record<string, unknown>
      for (const field of ["title", "annotations", "outputSchema", "icons", "_meta"]) expect(listed[field], field).toEqual(tool[field])
      expect(listed.name).toBe("rich__sound")
    } finally {
      await straight.close()
    }
  })
})

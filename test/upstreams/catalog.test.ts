/** Upstream resources and prompts, as the official SDK client sees them on the router's /mcp. */
import { describe, expect, it } from "vitest"
import { cleanupAfterEach, everythingServer, mcpClient, setUpstreams, start, stdio, waitFor, whenUp, WAIT_MS } from "./support.ts"

cleanupAfterEach()

describe("resources and prompts of an upstream", () => {
  it("are offered namespaced, read and got through the upstream, and hidden once it is removed", async () => {
    const server = await start({ upstreams: [{ name: "ev", transport: stdio(everythingServer, "stdio") }] })
    await whenUp(server, "ev")
    const client = await mcpClient(server)

    const resources = await waitFor("upstream resources", async () => {
      const listed = (await client.listResources(undefined, { timeout: WAIT_MS })).resources
      return listed.some((r) => r.uri.startsWith("upstream://ev/")) ? listed : undefined
    })
    const resource = resources.find((r) => r.uri.startsWith("upstream://ev/"))!
    // the original URI is kept, encoded, after the upstream's name
    expect(decodeURIComponent(resource.uri.slice("upstream://ev/".length))).toMatch(/^demo:\/\//)
    const read = await client.readResource({ uri: resource.uri }, { timeout: WAIT_MS })
    expect(read.contents[0]?.uri).toBe(resource.uri)
    expect(JSON.stringify(read.contents[0])).toMatch(/"(text|blob)":/)

    const prompts = (await client.listPrompts(undefined, { timeout: WAIT_MS })).prompts.map((p) => p.name)
    expect(prompts).toContain("ev__simple-prompt")
    const got = await client.getPrompt({ name: "ev__simple-prompt", arguments: {} }, { timeout: WAIT_MS })
    expect(JSON.stringify(got.messages)).toContain("simple prompt")

    await setUpstreams(server, [])
    await waitFor("the resources to leave", async () =>
      !(await client.listResources(undefined, { timeout: WAIT_MS })).resources.some((r) => r.uri.startsWith("upstream://ev/")))
    expect((await client.listPrompts(undefined, { timeout: WAIT_MS })).prompts.map((p) => p.name)).not.toContain("ev__simple-prompt")
    await expect(client.readResource({ uri: resource.uri }, { timeout: WAIT_MS })).rejects.toThrow(/not offered now/)
  })
})

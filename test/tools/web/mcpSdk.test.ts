/** End to end: the official MCP SDK client calls fetch_url and api_call on the real router over /mcp. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "../../support/server.ts"
import { type LocalServer, startLocalServer, waitLimitMs } from "./support.ts"

const secret = "sdk-secret-5e6f7a8b"

let target: LocalServer
let router: RunningServer
let client: Client

beforeAll(async () => {
  process.env.WEB_SDK_TEST_SECRET = secret
  target = await startLocalServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ path: req.url, sawSecret: req.headers["x-secret"] === secret }))
  })
  router = await startServer(
    {
      // this file tests the tools, not authentication
      security: { requireApiKey: false },
      tools: {
        network: { allowedHosts: ["127.0.0.1"] },
        apis: { echo: { baseUrl: `${target.origin}/api`, headers: { "X-Secret": "${WEB_SDK_TEST_SECRET}" } } }
      }
    }
  )
  client = new Client({ name: "web-e2e", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${router.url}/mcp`)), { timeout: waitLimitMs })
})
afterAll(async () => {
  delete process.env.WEB_SDK_TEST_SECRET
  await client?.close()
  await router?.close()
  await target?.close()
})

const call = (name: string, args: Record<string, unknown>): Promise<any> =>
  client.callTool({ name, arguments: args }, undefined, { timeout: waitLimitMs })

describe("web tools over MCP with the official SDK client", () => {
  it("lists fetch_url and api_call with their annotations", async () => {
    const { tools } = await client.listTools(undefined, { timeout: waitLimitMs })
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]))
    expect(byName.fetch_url?.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true })
    expect(byName.api_call?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: true })
    expect(byName.fetch_url?.inputSchema.type).toBe("object")
  })

  it("fetch_url reaches an allowed local server", async () => {
    const result = await call("fetch_url", { url: `${target.origin}/page` })
    expect(result.isError).toBe(false)
    expect(result.structuredContent).toMatchObject({ status: 200, contentType: "application/json", truncated: false })
    expect(JSON.parse(result.structuredContent.body)).toEqual({ path: "/page", sawSecret: false })
  })

  it("fetch_url refuses a private address with the reason", async () => {
    const result = await call("fetch_url", { url: "http://10.0.0.1/" })
    expect(result.isError).toBe(true)
    expect(result.content[0].text).toBe(
      "Refused http://10.0.0.1/: 10.0.0.1 is a private address; add it to tools.network.allowedHosts to allow it"
    )
  })

  it("fetch_url refuses a file:// URL", async () => {
    const result = await call("fetch_url", { url: "file:///etc/passwd" })
    expect(result.isError).toBe(true)
    expect(result.content[0].text).toContain("file:// URLs cannot be fetched")
  })

  it("api_call sends the configured secret without showing it", async () => {
    const result = await call("api_call", { api: "echo", path: "things" })
    expect(result.isError).toBe(false)
    expect(result.structuredContent.json).toEqual({ path: "/api/things", sawSecret: true })
    expect(JSON.stringify(result)).not.toContain(secret)
    expect(target.requests.at(-1)?.headers["x-secret"]).toBe(secret)
  })
})

/** End to end: the official MCP SDK client calls docker_ps on the real router, which asks the replay daemon. */
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "../../support/server.ts"
import { allContainers, containerList, type ReplayDaemon, startReplayDaemon } from "./replayDaemon.ts"

const requestTimeoutMs = 10_000
let daemon: ReplayDaemon
let server: RunningServer
let client: Client

beforeAll(async () => {
  daemon = await startReplayDaemon(containerList(allContainers.filter((c) => c.Labels.app === "web")))
  server = await startServer({ tools: { dockerSocket: daemon.socketPath } })
  client = new Client({ name: "docker-e2e", version: "1.0.0" })
  await client.connect(new StreamableHTTPClientTransport(new URL(`${server.url}/mcp`)), { timeout: requestTimeoutMs })
})
afterAll(async () => {
  await client?.close()
  await server?.close()
  await daemon?.close()
})

const text = (result: any): string => result.content.map((c: any) => c.text).join("\n")

describe("docker_ps over MCP Streamable HTTP", () => {
  it("is listed as read-only and not open-world, with its input schema", async () => {
    const { tools } = await client.listTools(undefined, { timeout: requestTimeoutMs })
    const dockerPs = tools.find((t) => t.name === "docker_ps")
    expect(dockerPs?.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: false })
    expect(dockerPs?.inputSchema.type).toBe("object")
    expect(Object.keys(dockerPs?.inputSchema.properties ?? {}).sort()).toEqual(["all", "filters"])
  })

  it("lists containers from the daemon, passing all and filters through", async () => {
    const result: any = await client.callTool(
      { name: "docker_ps", arguments: { all: true, filters: { label: ["app=web"] } } },
      undefined,
      { timeout: requestTimeoutMs }
    )
    expect(result.isError).toBe(false)
    expect(result.structuredContent).toMatchObject({
      count: 1,
      containers: [{ id: "8dfafdbc3a40", names: ["shop-web-1"], state: "running", ports: ["0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp", "443/tcp"] }]
    })
    const query = daemon.requests.at(-1)!.query
    expect(query.get("all")).toBe("1")
    expect(JSON.parse(query.get("filters")!)).toEqual({ label: ["app=web"] })
  })

  it("reports a daemon that went away as an isError result", async () => {
    const socketPath = daemon.socketPath
    await daemon.close()
    const result: any = await client.callTool({ name: "docker_ps", arguments: {} }, undefined, { timeout: requestTimeoutMs })
    expect(result.isError).toBe(true)
    expect(text(result)).toBe(`Docker is not reachable at ${socketPath}: the socket does not exist`)
  })
})

/** api_call through the Router: configured APIs with secret headers, against real local servers. */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Router } from "../../../src/router/Router.ts"
import { caller, callTool, structured, textOf } from "../fixtures.ts"
import { type LocalServer, runOn, startLocalServer } from "./support.ts"

const token = "tok-9f8e7d6c5b4a"
const apiKey = "key-0123456789"

let api: LocalServer
let other: LocalServer
let silent: LocalServer

beforeAll(async () => {
  process.env.WEB_TEST_TOKEN = token
  process.env.WEB_TEST_KEY = apiKey
  delete process.env.WEB_TEST_UNSET
  api = await startLocalServer((req, res) => {
    if (req.url === "/v1/away") {
      res.writeHead(302, { location: `${other.origin}/landing` })
      return res.end()
    }
    if (req.url === "/v1/text") {
      res.writeHead(200, { "content-type": "text/plain" })
      return res.end("plain words")
    }
    if (req.url === "/v1/big") {
      res.writeHead(200, { "content-type": "application/json" })
      return res.end(JSON.stringify({ items: "x".repeat(5000) }))
    }
    // echoes what it received, and (as careless servers do) the credentials in headers
    res.writeHead(201, {
      "content-type": "application/json",
      "x-api-key": String(req.headers["x-api-key"]),
      "x-echo-authorization": String(req.headers.authorization)
    })
    res.end(JSON.stringify({ method: req.method, path: req.url, headers: req.headers, body: req.body }))
  })
  other = await startLocalServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" })
    res.end(JSON.stringify({ headers: req.headers }))
  })
  silent = await startLocalServer(() => {
    // never answers
  })
})
afterAll(async () => {
  delete process.env.WEB_TEST_TOKEN
  delete process.env.WEB_TEST_KEY
  await Promise.all([api, other, silent].map((s) => s?.close()))
})

const config = (network: Record<string, unknown> = { allowedHosts: ["127.0.0.1"] }) => ({
  tools: {
    network,
    apis: {
      local: {
        baseUrl: `${api.origin}/v1`,
        headers: { Authorization: "Bearer ${WEB_TEST_TOKEN}", "X-Api-Key": "${WEB_TEST_KEY}", Accept: "application/json" }
      },
      broken: { baseUrl: `${api.origin}/v1`, headers: { authorization: "Bearer ${WEB_TEST_UNSET}" } },
      slow: { baseUrl: silent.origin, timeout: 300 }
    }
  }
})

const apiCall = (args: unknown, input: Record<string, any> = config()) => runOn(input, callTool("api_call", args))

const failsWith = async (args: unknown, message: string) => {
  const output = await apiCall(args)
  expect(output.isError).toBe(true)
  expect(textOf(output)).toBe(message)
}

describe("api_call", () => {
  it("is offered with truthful annotations", async () => {
    const tools = await runOn({}, Router.use((router) => Effect.succeed(router.list(caller))))
    expect(tools.find((t) => t.name === "api_call")?.annotations).toMatchObject({
      readOnlyHint: false,
      destructiveHint: true,
      openWorldHint: true
    })
  })

  it("adds the configured headers (with ${VAR} expanded) and never returns them", async () => {
    const output = await apiCall({ api: "local", path: "users/42", query: { expand: "all" }, headers: { "X-Trace": "t1" } })
    expect(output.isError).toBeUndefined()
    const received = api.requests.at(-1)!
    expect(received.url).toBe("/v1/users/42?expand=all")
    expect(received.headers).toMatchObject({
      authorization: `Bearer ${token}`,
      "x-api-key": apiKey,
      accept: "application/json",
      "x-trace": "t1"
    })

    const result = structured(output)
    expect(result.status).toBe(201)
    expect(result.json).toMatchObject({ method: "GET", path: "/v1/users/42?expand=all" })
    expect(result.json.headers.authorization).toBe("[REDACTED]")
    expect(result.json.headers["x-api-key"]).toBe("[REDACTED]")
    expect(result.headers).not.toHaveProperty("x-api-key")
    expect(result.headers["x-echo-authorization"]).toBe("[REDACTED]")
    const everything = JSON.stringify(output)
    expect(everything).not.toContain(token)
    expect(everything).not.toContain(apiKey)
    expect(everything).not.toContain(api.origin)
  })

  it("sends a JSON body; the caller cannot override the configured headers", async () => {
    const output = await apiCall({
      api: "local",
      path: "/items",
      method: "POST",
      body: { name: "widget", tags: ["a", "b"] },
      headers: { authorization: "Bearer forged" }
    })
    const received = api.requests.at(-1)!
    expect(received).toMatchObject({ method: "POST", url: "/v1/items", body: JSON.stringify({ name: "widget", tags: ["a", "b"] }) })
    expect(received.headers["content-type"]).toBe("application/json")
    expect(received.headers.authorization).toBe(`Bearer ${token}`)
    expect(structured(output).json.method).toBe("POST")
  })

  it("returns non-JSON as text, and cut JSON as text with truncated", async () => {
    expect(structured(await apiCall({ api: "local", path: "text" }))).toMatchObject({ text: "plain words", encoding: "utf8", truncated: false })
    const cut = structured(await apiCall({ api: "local", path: "big" }, { tools: { ...config().tools, maxOutputBytes: 100 } }))
    expect(cut).toMatchObject({ truncated: true, encoding: "utf8" })
    expect(cut.text).toHaveLength(100)
    expect(cut).not.toHaveProperty("json")
  })

  it("drops the configured headers when the API redirects to another origin", async () => {
    const result = structured(await apiCall({ api: "local", path: "away" }))
    expect(result.json.headers).not.toHaveProperty("authorization")
    expect(result.json.headers).not.toHaveProperty("x-api-key")
    expect(other.requests.at(-1)?.headers).not.toHaveProperty("authorization")
  })

  it("calls a plain URL without any configured header", async () => {
    const result = structured(await apiCall({ url: `${api.origin}/v1/direct`, method: "DELETE" }))
    expect(result.json).toMatchObject({ method: "DELETE", path: "/v1/direct" })
    expect(api.requests.at(-1)?.headers).not.toHaveProperty("authorization")
  })

  it("refuses loopback under the default network policy", async () => {
    const output = await apiCall({ api: "local", path: "x" }, config({}))
    expect(output.isError).toBe(true)
    expect(textOf(output)).toContain("127.0.0.1 is a loopback address; add it to tools.network.allowedHosts to allow it")
  })

  it("uses the API's timeout", async () => {
    const output = await apiCall({ api: "slow", path: "wait" })
    expect(output.isError).toBe(true)
    expect(textOf(output)).toBe(`GET ${silent.origin}/wait timed out after 300 ms`)
    await silent.allSocketsClosed()
  })

  it("names an environment variable that is not set", () =>
    failsWith(
      { api: "broken", path: "x" },
      "tools.apis.broken.headers.authorization uses ${WEB_TEST_UNSET}, which is not set in the router's environment"
    ))

  it("lists the configured APIs when the name is unknown", () =>
    failsWith({ api: "nope" }, 'Unknown API "nope"; configured APIs: local, broken, slow'))

  it("says when no API is configured", async () => {
    const output = await apiCall({ api: "constructor" }, { tools: { network: { allowedHosts: ["127.0.0.1"] } } })
    expect(textOf(output)).toBe('Unknown API "constructor"; no APIs are configured (tools.apis)')
  })

  it("wants exactly one of url and api", async () => {
    await failsWith({ url: `${api.origin}/v1/x`, api: "local" }, "Give either url or api, not both")
    await failsWith({ method: "GET" }, "Give url or api (configured APIs: local, broken, slow)")
    await failsWith({ url: `${api.origin}/v1/x`, path: "y" }, "path goes with api; with url, put the path in the url")
  })

  it.each(["../admin", "/v1/../../admin", "users/../../admin", "http://127.0.0.1:1/"])("refuses path %s, which leaves the base URL", (path) =>
    failsWith({ api: "local", path }, `path ${JSON.stringify(path)} leaves the base URL of API "local"`))

  it("keeps a path with a leading // under the base URL", async () => {
    await apiCall({ api: "local", path: "//evil.test/x" })
    expect(api.requests.at(-1)?.url).toBe("/v1/evil.test/x")
  })
})

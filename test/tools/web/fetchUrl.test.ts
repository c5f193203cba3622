/** fetch_url through the Router, against real local servers. */
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Router } from "../../../src/router/Router.ts"
import { InvalidArguments } from "../../../src/router/RouterErrors.ts"
import { caller, callTool, structured, textOf } from "../fixtures.ts"
import { allowLoopback, type LocalServer, runOn, startLocalServer } from "./support.ts"

const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0xff, 0x10])

let server: LocalServer
let endless: LocalServer
let silent: LocalServer

beforeAll(async () => {
  server = await startLocalServer((req, res) => {
    if (req.url === "/image.png") {
      res.writeHead(200, { "content-type": "image/png" })
      return res.end(png)
    }
    if (req.url === "/moved") {
      res.writeHead(301, { location: "/page" })
      return res.end()
    }
    res.writeHead(200, { "content-type": "text/html; charset=utf-8", "x-request-header": String(req.headers["x-hello"]) })
    res.end("<h1>Grüße</h1>")
  })
  endless = await startLocalServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain" })
    const timer = setInterval(() => res.write("line of text\n".repeat(100)), 2)
    res.on("close", () => clearInterval(timer))
  })
  silent = await startLocalServer(() => {
    // never answers
  })
})
afterAll(async () => {
  await Promise.all([server, endless, silent].map((s) => s?.close()))
})

const fetchUrl = (args: unknown, config: Record<string, any> = allowLoopback) => runOn(config, callTool("fetch_url", args))

const withTools = (tools: Record<string, unknown>) => ({ tools: { ...allowLoopback.tools, ...tools } })

describe("fetch_url", () => {
  it("is offered with truthful annotations only when tools.enableReal is true", async () => {
    const listed = (config: Record<string, any>) =>
      runOn(config, Router.use((router) => Effect.succeed(router.list(caller))))
    const tool = (await listed({})).find((t) => t.name === "fetch_url")
    expect(tool?.annotations).toMatchObject({ readOnlyHint: true, openWorldHint: true })
    expect(tool?.inputJsonSchema).toMatchObject({
      type: "object",
      required: ["url"],
      properties: { method: { enum: ["GET", "HEAD"] } }
    })
    const readOnly = await listed({ tools: { enableReal: false } })
    expect(readOnly.map((t) => t.name)).not.toContain("fetch_url")
    expect(readOnly.map((t) => t.name)).not.toContain("api_call")
  })

  it("with the default configuration refuses loopback with the reason and the fix", async () => {
    const output = await fetchUrl({ url: `${server.origin}/page` }, {})
    expect(output.isError).toBe(true)
    expect(textOf(output)).toBe(
      `Refused ${server.origin}/page: 127.0.0.1 is a loopback address; add it to tools.network.allowedHosts to allow it`
    )
    expect(server.requests).toEqual([])
  })

  it("returns status, headers, content type and text body, following redirects", async () => {
    const output = await fetchUrl({ url: `${server.origin}/moved`, headers: { "X-Hello": "hi" } })
    expect(output.isError).toBeUndefined()
    expect(structured(output)).toEqual({
      status: 200,
      statusText: "OK",
      finalUrl: `${server.origin}/page`,
      redirects: [`${server.origin}/page`],
      contentType: "text/html; charset=utf-8",
      headers: expect.objectContaining({ "x-request-header": "hi" }),
      encoding: "utf8",
      body: "<h1>Grüße</h1>",
      bytes: Buffer.byteLength("<h1>Grüße</h1>"),
      truncated: false
    })
    expect(JSON.parse(textOf(output))).toEqual(structured(output))
  })

  it("returns a binary body as base64", async () => {
    const result = structured(await fetchUrl({ url: `${server.origin}/image.png` }))
    expect(result).toMatchObject({ contentType: "image/png", encoding: "base64", body: png.toString("base64"), bytes: png.length })
  })

  it("HEAD returns headers only", async () => {
    const result = structured(await fetchUrl({ url: `${server.origin}/page`, method: "HEAD" }))
    expect(result).toMatchObject({ status: 200, body: "", bytes: 0, contentType: "text/html; charset=utf-8" })
  })

  it("cuts an endless body at maxBytes, never beyond tools.maxOutputBytes", async () => {
    const asked = structured(await fetchUrl({ url: endless.origin, maxBytes: 2000 }))
    expect(asked).toMatchObject({ truncated: true, bytes: 2000 })
    const capped = structured(await fetchUrl({ url: endless.origin, maxBytes: 1_000_000 }, withTools({ maxOutputBytes: 3000 })))
    expect(capped).toMatchObject({ truncated: true, bytes: 3000 })
    expect(capped.body).toHaveLength(3000)
    await endless.allSocketsClosed()
  })

  it("times out after timeoutMs, and never later than tools.timeout", async () => {
    const asked = await fetchUrl({ url: `${silent.origin}/a`, timeoutMs: 200 })
    expect(asked.isError).toBe(true)
    expect(textOf(asked)).toBe(`GET ${silent.origin}/a timed out after 200 ms`)
    const capped = await fetchUrl({ url: `${silent.origin}/b`, timeoutMs: 600_000 }, withTools({ timeout: 300 }))
    expect(capped.isError).toBe(true)
    // the tool's own limit or the Router's, whichever fires first, both at tools.timeout
    expect(textOf(capped)).toContain("timed out after 300 ms")
    await silent.allSocketsClosed()
  })

  it.each([
    [{ url: "file:///etc/passwd" }, "url", "file:// URLs cannot be fetched; only http:// and https:// are allowed"],
    [{ url: "ftp://127.0.0.1/pub" }, "url", "ftp:// URLs cannot be fetched; only http:// and https:// are allowed"],
    [{ url: "javascript:alert(1)" }, "url", "javascript:// URLs cannot be fetched"],
    [{ url: "no scheme here" }, "url", '"no scheme here" is not a valid URL'],
    [{ url: "http://x.test", method: "POST" }, "method", "Expected"],
    [{ url: "http://x.test", maxBytes: 0 }, "maxBytes", "Expected"],
    [{ url: "http://x.test", extra: true }, "extra", ""]
  ])("refuses %j by its Schema", async (args, field, message) => {
    const error = await runOn(allowLoopback, Effect.flip(callTool("fetch_url", args)))
    expect(error).toBeInstanceOf(InvalidArguments)
    const problem = (error as InvalidArguments).problems.find((p) => p.path === field)
    expect(problem?.message).toContain(message)
  })
})

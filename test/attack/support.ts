/** Helpers of the attack tests: a router with the conformance fixture as an unprefixed stdio upstream, raw /mcp calls, SSE reads. */
import * as path from "node:path"
import { expect } from "vitest"
import { ADMIN, call, eventually, nodeBin, root, type RunningServer, start } from "../security/support.ts"

export const fixture = path.join(root, "test/fixtures/conformanceServer.mjs")

/** A router (keys on) whose one upstream is the conformance fixture, up before it returns. */
export const startWithFixture = async (config: Record<string, any> = {}) => {
  const server = await start({ ...config, upstreams: [{ name: "fixture", prefix: "", transport: { type: "stdio", command: nodeBin, args: [fixture] } }] })
  const up = await eventually(async () => ((await call(`${server.url}/api/upstreams`, { key: ADMIN })).json?.upstreams ?? []).some((u: any) => u.state === "up"), 20_000)
  expect(up).toBe(true)
  return server
}

export const headers = (key: string, extra: Record<string, string> = {}) => ({
  accept: "application/json, text/event-stream",
  "content-type": "application/json",
  authorization: `Bearer ${key}`,
  ...extra
})

/** A POST to /mcp that never outlives `ms`. */
export const postMcp = (server: RunningServer, key: string, body: unknown, extra: Record<string, string> = {}, ms = 8_000) =>
  fetch(`${server.url}/mcp`, { method: "POST", headers: headers(key, extra), body: typeof body === "string" ? body : JSON.stringify(body), signal: AbortSignal.timeout(ms) })

/** initialize; the headers of the session it opened. */
export const openSession = async (server: RunningServer, key: string, capabilities: object = {}, protocolVersion = "2025-06-18") => {
  const reply = await postMcp(server, key, { jsonrpc: "2.0", id: 0, method: "initialize", params: { protocolVersion, capabilities, clientInfo: { name: "attack", version: "1" } } })
  expect(reply.status).toBe(200)
  await reply.text()
  return { "mcp-session-id": reply.headers.get("mcp-session-id")!, "mcp-protocol-version": protocolVersion }
}

export const sessionless = { "mcp-protocol-version": "2026-07-28" }

/** What a response body says within `ms` (or until `until` holds); the body is then cancelled. Never throws. */
export const readFor = async (response: Promise<Response> | Response, ms: number, until: (text: string) => boolean = () => false) => {
  const deadline = Date.now() + ms
  let text = ""
  try {
    const r = await Promise.race([Promise.resolve(response), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), ms))])
    if (r === undefined) return text
    const reader = r.body!.getReader()
    const decoder = new TextDecoder()
    while (Date.now() < deadline && !until(text)) {
      const chunk = await Promise.race([reader.read(), new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), Math.max(1, deadline - Date.now())))])
      if (chunk === undefined || chunk.done) break
      text += decoder.decode(chunk.value, { stream: true })
    }
    reader.cancel().catch(() => {})
  } catch {
    // aborted: what came so far
  }
  return text
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

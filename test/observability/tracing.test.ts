/**
 * With monitoring.otlpEndpoint set, a tool call's spans (the HTTP request and Router.call inside it) reach
 * an OTLP/HTTP receiver: here a local node:http server recording POSTs to /v1/traces.
 */
import { describe, expect, it } from "vitest"
import { tracesUrl } from "../../src/observability/Tracing.ts"
import { startLocalServer } from "../tools/web/support.ts"
import { ADMIN, cleanupAfterEach, eventually, start, stop } from "../security/support.ts"

cleanupAfterEach()

interface Span {
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string
  readonly name: string
  readonly attributes: ReadonlyArray<{ readonly key: string; readonly value: Record<string, unknown> }>
}

const attribute = (span: Span, key: string) => Object.values(span.attributes.find((a) => a.key === key)?.value ?? {})[0]

describe("tracing", () => {
  it("sends the spans of an HTTP request and its tool call to the OTLP collector", async () => {
    const collector = await startLocalServer((_, response) => response.writeHead(200, { "content-type": "application/json" }).end("{}"))
    try {
      const server = await start({ monitoring: { otlpEndpoint: collector.origin } })
      // the key in the query string must not reach the collector
      const reply = await fetch(`${server.url}/api/mcp/jsonrpc?api_key=${ADMIN}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "list_directory", arguments: {} } })
      })
      expect(reply.status).toBe(200)

      const spans = () =>
        collector.requests.flatMap((r) =>
          (JSON.parse(r.body).resourceSpans as Array<any>).flatMap((rs) => rs.scopeSpans.flatMap((ss: any) => ss.spans as Array<Span>)))
      expect(await eventually(async () => spans().some((s) => s.name === "Router.call"), 10_000), "a Router.call span arrives").toBe(true)
      expect(collector.requests.every((r) => r.method === "POST" && r.url === "/v1/traces")).toBe(true)

      const toolSpan = spans().find((s) => s.name === "Router.call")!
      expect(attribute(toolSpan, "gen_ai.tool.name")).toBe("list_directory")
      expect(attribute(toolSpan, "mcp.transport")).toBe("jsonrpc")
      const requestSpan = spans().find((s) => s.spanId === toolSpan.parentSpanId)
      expect(requestSpan, "the tool call's parent is the HTTP request").toBeDefined()
      expect(requestSpan!.traceId).toBe(toolSpan.traceId)
      expect(attribute(requestSpan!, "http.route")).toBe("/api/mcp/jsonrpc")
      expect(attribute(requestSpan!, "http.response.status_code")).toBe(200)
      expect(collector.requests.map((r) => r.body).join("")).not.toContain(ADMIN)
      // stopped while the collector still answers, so the last flush does not wait for it
      await stop(server)
    } finally {
      await collector.close()
    }
  })

  it("takes the endpoint as a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT does", () => {
    expect(tracesUrl("http://collector:4318")).toBe("http://collector:4318/v1/traces")
    expect(tracesUrl("http://collector:4318/")).toBe("http://collector:4318/v1/traces")
    expect(tracesUrl("http://collector:4318/v1/traces")).toBe("http://collector:4318/v1/traces")
  })
})

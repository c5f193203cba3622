import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AppConfig } from "../../config/AppConfig.ts"
import { defineTool, jsonOutput } from "../ToolDefinition.ts"
import { bodyAsText, HttpUrl, RequestHeaders, safeFetch, TimeoutMs } from "./safeFetch.ts"

const FetchUrlInput = Schema.Struct({
  url: HttpUrl,
  method: Schema.optionalKey(Schema.Literals(["GET", "HEAD"]).annotate({ description: "GET (default) or HEAD" })),
  headers: Schema.optionalKey(RequestHeaders),
  maxBytes: Schema.optionalKey(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({ description: "Most body bytes to return (at most tools.maxOutputBytes)" })
  ),
  timeoutMs: Schema.optionalKey(TimeoutMs)
})

export const fetchUrlTool = Effect.gen(function*() {
  const config = yield* AppConfig
  return defineTool({
    name: "fetch_url",
    description:
      "Fetch an http(s) URL and return status, headers and body (text, or base64 for binary content). Redirects are followed; private and loopback addresses are refused unless tools.network.allowedHosts allows them.",
    input: FetchUrlInput,
    annotations: { title: "Fetch URL", readOnlyHint: true, openWorldHint: true },
    handler: (input) =>
      Effect.gen(function*() {
        const tools = config.current().tools
        const response = yield* safeFetch({
          url: input.url,
          method: input.method ?? "GET",
          headers: input.headers ?? {},
          maxBytes: Math.min(input.maxBytes ?? tools.maxOutputBytes, tools.maxOutputBytes),
          timeoutMs: Math.min(input.timeoutMs ?? tools.timeout, tools.timeout)
        }, tools.network)
        const body = bodyAsText(response)
        return jsonOutput({
          status: response.status,
          statusText: response.statusText,
          finalUrl: response.finalUrl,
          redirects: response.redirects,
          contentType: response.headers["content-type"] ?? null,
          headers: response.headers,
          encoding: body.encoding,
          body: body.text,
          bytes: response.body.length,
          truncated: response.truncated
        })
      })
  })
})

import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AppConfig } from "../../config/AppConfig.ts"
import { expandEnv } from "../../config/expandEnv.ts"
import type { ApiConfig, ToolsConfig } from "../../config/schema.ts"
import { defineTool, jsonOutput, ToolFailure } from "../ToolDefinition.ts"
import { bodyAsText, HttpUrl, httpUrlProblem, RequestHeaders, safeFetch, TimeoutMs } from "./safeFetch.ts"

const ApiCallInput = Schema.Struct({
  url: Schema.optionalKey(HttpUrl.annotate({ description: "Full http(s) URL; give this or api" })),
  api: Schema.optionalKey(Schema.String.annotate({ description: "Name of a configured API (tools.apis); give this or url" })),
  path: Schema.optionalKey(Schema.String.annotate({ description: "With api: path under the API's base URL" })),
  method: Schema.optionalKey(
    Schema.Literals(["GET", "POST", "PUT", "PATCH", "DELETE"]).annotate({ description: "GET (default), POST, PUT, PATCH or DELETE" })
  ),
  query: Schema.optionalKey(Schema.Record(Schema.String, Schema.String).annotate({ description: "Query parameters to add" })),
  headers: Schema.optionalKey(RequestHeaders),
  body: Schema.optionalKey(Schema.Unknown.annotate({ description: "JSON request body" })),
  timeoutMs: Schema.optionalKey(TimeoutMs)
})
type ApiCallInput = typeof ApiCallInput.Type

interface Target {
  readonly url: URL
  /** Configured headers, expanded; they override the caller's. */
  readonly headers: Readonly<Record<string, string>>
  /** Values that must not appear in the result. */
  readonly secrets: ReadonlyArray<string>
  readonly timeoutMs: number | undefined
}

const failure = (message: string) => new ToolFailure({ message })

/** `path` under the base URL; a path that climbs out of it (`..`, another host) is refused. */
const underBaseUrl = (name: string, baseUrl: string, path: string) => {
  const problem = httpUrlProblem(baseUrl)
  if (problem !== undefined) return Effect.fail(failure(`tools.apis.${name}.baseUrl: ${problem}`))
  const base = new URL(baseUrl)
  if (path === "") return Effect.succeed(base)
  const basePath = base.pathname.endsWith("/") ? base.pathname : `${base.pathname}/`
  const url = new URL(path.replace(/^\/+/, ""), new URL(basePath, base))
  for (const [key, value] of base.searchParams) url.searchParams.append(key, value)
  return url.origin === base.origin && url.pathname.startsWith(basePath)
    ? Effect.succeed(url)
    : Effect.fail(failure(`path ${JSON.stringify(path)} leaves the base URL of API "${name}"`))
}

/** The configured API's headers with `${VAR}` expanded; values taken from the environment are secrets. */
const configuredHeaders = (name: string, api: typeof ApiConfig.Type) =>
  Effect.gen(function*() {
    const headers: Record<string, string> = {}
    const secrets: Array<string> = []
    for (const [header, template] of Object.entries(api.headers)) {
      const value = yield* expandEnv(template, `tools.apis.${name}.headers.${header}`)
      headers[header.toLowerCase()] = value
      // "Bearer <token>": a server may echo the token alone
      if (template.includes("${")) secrets.push(value, value.split(" ").at(-1) ?? value)
    }
    return { headers, secrets: secrets.filter((secret) => secret.length > 0) }
  })

const resolveTarget = (input: ApiCallInput, apis: Readonly<Record<string, typeof ApiConfig.Type>>) =>
  Effect.gen(function*() {
    if (input.url !== undefined && input.api !== undefined) return yield* failure("Give either url or api, not both")
    if (input.url !== undefined) {
      if (input.path !== undefined) return yield* failure("path goes with api; with url, put the path in the url")
      return { url: new URL(input.url), headers: {}, secrets: [], timeoutMs: undefined } satisfies Target
    }
    const names = Object.keys(apis)
    const listed = names.length === 0 ? "no APIs are configured (tools.apis)" : `configured APIs: ${names.join(", ")}`
    if (input.api === undefined) return yield* failure(`Give url or api (${listed})`)
    const api = Object.hasOwn(apis, input.api) ? apis[input.api] : undefined
    if (api === undefined) return yield* failure(`Unknown API "${input.api}"; ${listed}`)
    const url = yield* underBaseUrl(input.api, api.baseUrl, input.path ?? "")
    const { headers, secrets } = yield* configuredHeaders(input.api, api)
    return { url, headers, secrets, timeoutMs: api.timeout } satisfies Target
  })

const redactor = (secrets: ReadonlyArray<string>) => (text: string) =>
  secrets.reduce((result, secret) => result.split(secret).join("[REDACTED]"), text)

const parseJson = (text: string): { readonly value: unknown } | undefined => {
  try {
    return { value: JSON.parse(text) }
  } catch {
    return undefined
  }
}

/** Sends the call; what comes back is stripped of the configured headers and their secret values. */
const callTarget = (input: ApiCallInput, target: Target, tools: typeof ToolsConfig.Type) =>
  Effect.gen(function*() {
    const redact = redactor(target.secrets)
    const url = new URL(target.url)
    for (const [key, value] of Object.entries(input.query ?? {})) url.searchParams.append(key, value)
    const jsonBody = input.body === undefined ? undefined : JSON.stringify(input.body)
    const response = yield* safeFetch({
      url: url.href,
      method: input.method ?? "GET",
      // later entries win (names are compared in lower case): the configured headers cannot be overridden
      headers: { ...(jsonBody === undefined ? {} : { "content-type": "application/json" }), ...input.headers, ...target.headers },
      ...(jsonBody === undefined ? {} : { body: jsonBody }),
      credentialHeaders: Object.keys(target.headers),
      maxBytes: tools.maxOutputBytes,
      timeoutMs: Math.min(input.timeoutMs ?? target.timeoutMs ?? tools.timeout, tools.timeout)
    }, tools.network).pipe(Effect.mapError((error) => failure(redact(error.message))))
    const headers = Object.fromEntries(
      Object.entries(response.headers)
        .filter(([name]) => !Object.hasOwn(target.headers, name))
        .map(([name, value]) => [name, typeof value === "string" ? redact(value) : value.map(redact)])
    )
    const body = bodyAsText(response)
    const text = body.encoding === "utf8" ? redact(body.text) : body.text
    const json = /^application\/(.+\+)?json$/.test(body.mediaType) && !response.truncated ? parseJson(text) : undefined
    return jsonOutput({
      status: response.status,
      statusText: response.statusText,
      headers,
      ...(json === undefined ? { encoding: body.encoding, text } : { json: json.value }),
      truncated: response.truncated
    })
  })

export const apiCallTool = Effect.gen(function*() {
  const config = yield* AppConfig
  return defineTool({
    name: "api_call",
    description:
      "Call an HTTP API: a configured one by name (its base URL and auth headers are added by the router and never shown), or any http(s) URL. JSON bodies are sent and parsed.",
    input: ApiCallInput,
    annotations: { title: "Call an HTTP API", readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: (input) =>
      Effect.gen(function*() {
        const tools = config.current().tools
        const target = yield* resolveTarget(input, tools.apis)
        return yield* callTarget(input, target, tools)
      })
  })
})

/**
 * The HTTP(S) client of the web tools, confined by `tools.network`. Every hop (the first request and
 * each redirect) is resolved once, every resolved address is checked, and the connection is pinned to
 * the checked addresses, so a DNS answer that changes between check and connect cannot slip through.
 * The body is cut at `maxBytes` while it streams; `timeoutMs` bounds the whole exchange; interruption
 * (a timeout, the caller going away) destroys the socket.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { LookupAddress } from "node:dns"
// the module object rather than a namespace: tests stand in for DNS on it
import dns from "node:dns/promises"
import * as http from "node:http"
import * as https from "node:https"
import type { LookupFunction } from "node:net"
import type { NetworkConfig } from "../../config/schema.ts"
import { serverName, version } from "../../version.ts"
import { ToolFailure } from "../ToolDefinition.ts"
import { ipFamily } from "../../net/addressRange.ts"
import { addressRefusal, hostRefusal, makeNetworkPolicy, type NetworkPolicy, normalizeHost } from "./addressPolicy.ts"

export interface FetchRequest {
  readonly url: string
  readonly method: string
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: string | Uint8Array
  /** Header names (credentials) dropped when a redirect leaves the origin of `url`. */
  readonly credentialHeaders?: ReadonlyArray<string>
  readonly maxBytes: number
  readonly timeoutMs: number
}

export type ResponseHeaders = Readonly<Record<string, string | ReadonlyArray<string>>>

export interface FetchResponse {
  readonly status: number
  readonly statusText: string
  readonly headers: ResponseHeaders
  readonly body: Buffer
  /** The body was longer than `maxBytes` and was cut there. */
  readonly truncated: boolean
  readonly finalUrl: string
  /** Every URL redirected to, in order. */
  readonly redirects: ReadonlyArray<string>
}

/** Why `text` is not an http(s) URL the web tools can fetch, or undefined when it is one. */
export const httpUrlProblem = (text: string): string | undefined => {
  const url = URL.parse(text)
  if (url === null) return `${JSON.stringify(text)} is not a valid URL`
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `${url.protocol}// URLs cannot be fetched; only http:// and https:// are allowed`
  }
  // as in fetch(): credentials go in headers (or a configured API), where they are not echoed in messages
  if (url.username !== "" || url.password !== "") return "URLs with a user name or password are not allowed; send credentials in headers"
  return undefined
}

/** An http:// or https:// URL; anything else is refused with the reason. */
export const HttpUrl = Schema.String.check(Schema.makeFilter(httpUrlProblem)).annotate({
  description: "An http:// or https:// URL"
})

export const RequestHeaders = Schema.Record(Schema.String, Schema.String).annotate({ description: "Request headers" })

export const TimeoutMs = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({
  description: "Time limit of the whole exchange in ms (at most tools.timeout)"
})

const failure = (message: string) => new ToolFailure({ message })

const parseHttpUrl = (text: string, base?: URL): Effect.Effect<URL, string> => {
  const url = URL.parse(text, base?.href)
  if (url === null) return Effect.fail(`${JSON.stringify(text)} is not a valid URL`)
  const problem = httpUrlProblem(url.href)
  return problem === undefined ? Effect.succeed(url) : Effect.fail(problem)
}

/** Resolves the host once and checks every address it has; the request then connects only to these. */
const checkedAddresses = (policy: NetworkPolicy, url: URL, refused: (reason: string) => ToolFailure) =>
  Effect.gen(function*() {
    const host = normalizeHost(url.hostname)
    const byName = hostRefusal(policy, host)
    if (byName !== undefined) return yield* refused(byName)
    const family = ipFamily(host)
    const addresses: ReadonlyArray<LookupAddress> = family !== undefined
      ? [{ address: host, family: family === "ipv4" ? 4 : 6 }]
      : yield* Effect.tryPromise({
        try: () => dns.lookup(host, { all: true }),
        catch: (error) => failure(`Cannot resolve ${host}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`)
      })
    for (const { address } of addresses) {
      const reason = addressRefusal(policy, host, address)
      if (reason !== undefined) return yield* refused(reason)
    }
    return addresses
  })

/** Answers node's connection lookups with the addresses already checked, never asking DNS again. */
const pinnedLookup = (addresses: ReadonlyArray<LookupAddress>): LookupFunction => (_hostname, options, callback) => {
  const wanted = addresses.filter((a) => options.family === undefined || options.family === 0 || a.family === options.family)
  const first = wanted[0]
  if (options.all === true) callback(null, wanted)
  else if (first !== undefined) callback(null, first.address, first.family)
  else callback(Object.assign(new Error(`no IPv${options.family} address was checked`), { code: "ENOTFOUND" }), "")
}

const redirectStatuses = new Set([301, 302, 303, 307, 308])

const redirectLocation = (status: number, headers: http.IncomingHttpHeaders) =>
  redirectStatuses.has(status) ? headers.location : undefined

/** What one hop sends. */
interface HopRequest {
  readonly url: URL
  readonly method: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: string | Uint8Array | undefined
}

interface HopResponse {
  readonly status: number
  readonly statusText: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: Buffer
  readonly truncated: boolean
}

/** One request/response on a pinned connection; the body of a redirect (or of HEAD) is not read. */
const exchange = (hop: HopRequest, maxBytes: number, addresses: ReadonlyArray<LookupAddress>) =>
  Effect.callback<HopResponse, ToolFailure>((resume) => {
    const failed = (error: Error) => resume(Effect.fail(failure(`${hop.method} ${hop.url.href} failed: ${error.message}`)))
    let request: http.ClientRequest
    try {
      request = (hop.url.protocol === "https:" ? https : http).request({
        protocol: hop.url.protocol,
        hostname: normalizeHost(hop.url.hostname),
        port: hop.url.port === "" ? undefined : Number(hop.url.port),
        path: `${hop.url.pathname}${hop.url.search}`,
        method: hop.method,
        headers: hop.headers,
        lookup: pinnedLookup(addresses),
        agent: false // no pooled socket outlives the call or skips the next check
      })
    } catch (error) {
      // invalid header names or values are refused before anything is sent
      return failed(error as Error)
    }
    request.on("error", failed)
    request.on("response", (response) => {
      const chunks: Array<Buffer> = []
      let size = 0
      const finish = (truncated: boolean) => {
        request.destroy()
        resume(Effect.succeed({
          status: response.statusCode ?? 0,
          statusText: response.statusMessage ?? "",
          headers: response.headers,
          body: Buffer.concat(chunks),
          truncated
        }))
      }
      if (hop.method === "HEAD" || redirectLocation(response.statusCode ?? 0, response.headers) !== undefined) {
        return finish(false)
      }
      response.on("data", (chunk: Buffer) => {
        if (size + chunk.length <= maxBytes) {
          chunks.push(chunk)
          size += chunk.length
          return
        }
        chunks.push(chunk.subarray(0, maxBytes - size))
        finish(true)
      })
      response.on("end", () => finish(false))
      response.on("error", failed)
    })
    request.end(hop.body)
    return Effect.sync(() => request.destroy())
  })

/**
 * The request a redirect leads to: credentials stay with the origin they were given for, and 303 (or
 * 301/302 after a POST) continues as a GET without the body, as browsers do.
 */
const redirected = (from: HopRequest, status: number, to: URL, credentialHeaders: ReadonlySet<string>): HopRequest => {
  const toGet = (status === 303 && from.method !== "HEAD") || ((status === 301 || status === 302) && from.method === "POST")
  const dropped = new Set([
    ...(to.origin === from.url.origin ? [] : credentialHeaders),
    ...(toGet ? ["content-type", "content-length"] : [])
  ])
  return {
    url: to,
    method: toGet ? "GET" : from.method,
    headers: Object.fromEntries(Object.entries(from.headers).filter(([name]) => !dropped.has(name))),
    body: toGet ? undefined : from.body
  }
}

const definedHeaders = (headers: http.IncomingHttpHeaders): ResponseHeaders =>
  Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string | Array<string>] => entry[1] !== undefined))

const lowerCaseKeys = (headers: Readonly<Record<string, string>>) =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]))

/** Performs `request` under `network` (allowed and denied hosts, redirect limit). */
export const safeFetch = (
  request: FetchRequest,
  network: typeof NetworkConfig.Type
): Effect.Effect<FetchResponse, ToolFailure> => {
  const method = request.method.toUpperCase()
  const credentialHeaders = new Set(
    ["authorization", "cookie", "proxy-authorization", ...(request.credentialHeaders ?? [])].map((name) => name.toLowerCase())
  )
  return Effect.gen(function*() {
    const policy = yield* Effect.fromResult(makeNetworkPolicy(network)).pipe(Effect.mapError(failure))
    let hop: HopRequest = {
      url: yield* parseHttpUrl(request.url).pipe(Effect.mapError(failure)),
      method,
      headers: {
        "user-agent": `${serverName}/${version}`,
        // an uncompressed body is what maxBytes counts and what the tools return
        "accept-encoding": "identity",
        ...lowerCaseKeys(request.headers ?? {})
      },
      body: request.body
    }
    const redirects: Array<string> = []
    while (true) {
      const url = hop.url.href
      const from = redirects.length === 0 ? "" : ` (redirected from ${request.url})`
      const addresses = yield* checkedAddresses(policy, hop.url, (reason) => failure(`Refused ${url}${from}: ${reason}`))
      const response = yield* exchange(hop, request.maxBytes, addresses)
      const location = redirectLocation(response.status, response.headers)
      if (location === undefined) {
        return { ...response, headers: definedHeaders(response.headers), finalUrl: url, redirects }
      }
      if (redirects.length >= network.maxRedirects) {
        return yield* failure(
          `Refused ${request.url}: it redirected more than ${network.maxRedirects} times (tools.network.maxRedirects)`
        )
      }
      const next = yield* parseHttpUrl(location, hop.url).pipe(
        Effect.mapError((problem) => failure(`Refused redirect from ${url} to ${location}: ${problem}`))
      )
      hop = redirected(hop, response.status, next, credentialHeaders)
      redirects.push(next.href)
    }
  }).pipe(
    Effect.timeoutOrElse({
      duration: request.timeoutMs,
      orElse: () => Effect.fail(failure(`${method} ${request.url} timed out after ${request.timeoutMs} ms`))
    })
  )
}

const textTypes = /^(text\/|application\/(json|xml|javascript|ecmascript|x-www-form-urlencoded|yaml|x-yaml|graphql)$)|\+(json|xml)$/

/** A body as the tools return it: text in its declared charset, or base64 when it is binary. */
export const bodyAsText = (response: Pick<FetchResponse, "headers" | "body" | "truncated">) => {
  const contentType = String(response.headers["content-type"] ?? "")
  const [mediaType = "", ...parameters] = contentType.split(";").map((part) => part.trim().toLowerCase())
  const charset = parameters.find((p) => p.startsWith("charset="))?.slice("charset=".length).replace(/"/g, "")
  const decoder = (fatal: boolean) => {
    try {
      return new TextDecoder(charset ?? "utf-8", { fatal })
    } catch {
      return new TextDecoder("utf-8", { fatal }) // a charset node does not know
    }
  }
  // streaming mode holds back a character the cut split in two instead of mangling it
  const decode = (fatal: boolean) => decoder(fatal).decode(response.body, { stream: response.truncated })
  if (textTypes.test(mediaType) || charset !== undefined) {
    return { mediaType, encoding: "utf8" as const, text: decode(false) }
  }
  if (mediaType === "") {
    // undeclared: text when it is valid UTF-8
    try {
      return { mediaType, encoding: "utf8" as const, text: decode(true) }
    } catch {
      // binary
    }
  }
  return { mediaType, encoding: "base64" as const, text: response.body.toString("base64") }
}

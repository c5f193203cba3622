/**
 * Which browser origins may call the router: the router's own origin (same-origin), loopback origins
 * while the router listens on loopback, and `security.allowedOrigins`. The Host check keeps DNS
 * rebinding out while the router listens on loopback.
 */
import { OriginRefused } from "../security/SecurityErrors.ts"

const loopbackNames = new Set(["localhost", "127.0.0.1", "[::1]", "::1"])

const isLoopbackName = (hostname: string) => loopbackNames.has(hostname) || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)

/** The host name of a Host header or URL authority, lower-cased, IPv6 in brackets, without the port. */
const hostName = (host: string) => (host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.split(":")[0]!).toLowerCase()

export const listensOnLoopback = (serverHost: string) => isLoopbackName(serverHost.toLowerCase())

export interface OriginCheck {
  /** The Origin sent, when it may call (CORS headers are set for it). */
  readonly origin?: string | undefined
  readonly wildcard: boolean
  readonly refused?: { readonly kind: "origin" | "host"; readonly error: OriginRefused } | undefined
}

const sameOrigin = (origin: string, host: string | undefined) =>
  host !== undefined && (origin === `http://${host.toLowerCase()}` || origin === `https://${host.toLowerCase()}`)

const loopbackOrigin = (origin: string) => {
  if (!URL.canParse(origin)) return false
  const url = new URL(origin)
  // an Origin is exactly scheme://host[:port]: anything more (user info, a path) is not one a browser sends
  return url.origin === origin && (url.protocol === "http:" || url.protocol === "https:") && isLoopbackName(url.hostname)
}

export const originCheck = (
  headers: Readonly<Record<string, string | undefined>>,
  allowedOrigins: ReadonlyArray<string>,
  serverHost: string
): OriginCheck => {
  const onLoopback = listensOnLoopback(serverHost)
  const host = headers["host"]
  if (onLoopback && host !== undefined && !isLoopbackName(hostName(host))) {
    return { wildcard: false, refused: { kind: "host", error: new OriginRefused({ detail: `Host ${host} is not a loopback name; this router only answers to localhost` }) } }
  }
  const origin = headers["origin"]
  if (origin === undefined) return { wildcard: false }
  const wildcard = allowedOrigins.includes("*")
  const lowered = origin.toLowerCase()
  if (wildcard || allowedOrigins.includes(origin) || sameOrigin(lowered, host) || (onLoopback && loopbackOrigin(lowered))) {
    return { origin, wildcard }
  }
  return {
    wildcard,
    refused: {
      kind: "origin",
      error: new OriginRefused({ detail: `Origin ${origin} is not this router's own origin nor in security.allowedOrigins` })
    }
  }
}

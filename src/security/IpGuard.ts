/**
 * Which addresses are refused: `security.blockedIps` (kept current with the configuration) and
 * addresses that failed to authenticate too often (blocked for `authFailureLimit.blockSeconds`). Also
 * works out the client's address behind `security.trustedProxies`.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stream from "effect/Stream"
import { AppConfig } from "../config/AppConfig.ts"
import { clientAddress, listContains, makeAddressList } from "./clientAddress.ts"

export class IpGuard extends Context.Service<IpGuard, {
  readonly clientIp: (peer: string, forwardedFor: string | undefined) => string
  /** Why this address is refused, or undefined. */
  readonly refusal: (ip: string) => string | undefined
  readonly recordAuthFailure: (ip: string) => void
  readonly temporarilyBlocked: () => ReadonlyArray<{ readonly ip: string; readonly until: string }>
}>()("mcp-router/security/IpGuard") {
  static readonly layer = Layer.effect(
    IpGuard,
    Effect.gen(function*() {
      const config = yield* AppConfig
      let lists = { blocked: makeAddressList([]), trusted: makeAddressList([]) }
      const rebuild = (security: { readonly blockedIps: ReadonlyArray<string>; readonly trustedProxies: ReadonlyArray<string> }) => {
        lists = { blocked: makeAddressList(security.blockedIps), trusted: makeAddressList(security.trustedProxies) }
      }
      rebuild(config.current().security)
      yield* config.changes.pipe(Stream.runForEach((next) => Effect.sync(() => rebuild(next.security))), Effect.forkScoped)

      const failures = new Map<string, Array<number>>()
      const blockedUntil = new Map<string, number>()
      // bounded, so a flood from many addresses cannot grow memory without limit
      const maxTracked = 10_000
      const bound = (map: Map<string, unknown>) => {
        if (map.size > maxTracked) map.delete(map.keys().next().value!)
      }

      return IpGuard.of({
        clientIp: (peer, forwardedFor) =>
          clientAddress(peer, forwardedFor, config.current().security.trustedProxies.length > 0 ? lists.trusted : undefined),
        refusal: (ip) => {
          if (listContains(lists.blocked, ip)) return "the address is in security.blockedIps"
          const until = blockedUntil.get(ip)
          if (until === undefined) return undefined
          if (until > Date.now()) return `too many failed authentications; blocked until ${new Date(until).toISOString()}`
          blockedUntil.delete(ip)
          return undefined
        },
        recordAuthFailure: (ip) => {
          const { maxFailures, windowSeconds, blockSeconds } = config.current().security.authFailureLimit
          const now = Date.now()
          const recent = (failures.get(ip) ?? []).filter((t) => t > now - windowSeconds * 1000)
          recent.push(now)
          if (recent.length >= maxFailures) {
            blockedUntil.set(ip, now + blockSeconds * 1000)
            failures.delete(ip)
            bound(blockedUntil)
          } else {
            failures.set(ip, recent)
            bound(failures)
          }
        },
        temporarilyBlocked: () => {
          const now = Date.now()
          return Array.from(blockedUntil).filter(([, until]) => until > now).map(([ip, until]) => ({ ip, until: new Date(until).toISOString() }))
        }
      })
    })
  )
}

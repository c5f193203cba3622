/**
 * Which addresses the web tools may reach. Anything that is not a public unicast address (loopback,
 * private, link-local, cloud metadata, ...) is refused unless `tools.network.allowedHosts` names it;
 * `tools.network.deniedHosts` always wins. Matching uses node:net's BlockList, which also matches
 * IPv4-mapped IPv6 addresses (::ffff:127.0.0.1, ::ffff:7f00:1) against IPv4 rules.
 */
import * as Result from "effect/Result"
import { BlockList } from "node:net"
import { ipFamily, parseAddressRange } from "../../net/addressRange.ts"

export type AddressKind =
  | "public"
  | "cloud metadata"
  | "unspecified"
  | "broadcast"
  | "loopback"
  | "private"
  | "link-local"
  | "multicast"
  | "reserved"

/** `a.b.c.d/n` or `x::/n`; undefined for a single address or anything else. */
const parseCidr = (text: string) => {
  const range = parseAddressRange(text)
  return range?.bits === undefined ? undefined : { prefix: range.address, length: range.bits, family: range.family }
}

const blockListOf = (ranges: ReadonlyArray<string>) => {
  const list = new BlockList()
  for (const range of ranges) {
    const cidr = parseCidr(range)
    if (cidr === undefined) throw new Error(`not a CIDR range: ${range}`)
    list.addSubnet(cidr.prefix, cidr.length, cidr.family)
  }
  return list
}

// first match wins: metadata endpoints sit inside link-local, CGNAT and unique-local ranges
const specialRanges: ReadonlyArray<readonly [AddressKind, BlockList]> = [
  ["cloud metadata", blockListOf(["169.254.169.254/32", "100.100.100.200/32", "fd00:ec2::254/128"])],
  ["unspecified", blockListOf(["0.0.0.0/32", "::/128"])],
  ["broadcast", blockListOf(["255.255.255.255/32"])],
  ["loopback", blockListOf(["127.0.0.0/8", "::1/128"])],
  ["private", blockListOf(["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "fc00::/7"])],
  ["link-local", blockListOf(["169.254.0.0/16", "fe80::/10"])],
  ["multicast", blockListOf(["224.0.0.0/4", "ff00::/8"])],
  ["reserved", blockListOf([
    "0.0.0.0/8", // "this network"
    "192.0.0.0/24", // IETF protocol assignments
    "192.0.2.0/24", // documentation
    "192.88.99.0/24", // 6to4 relay anycast
    "198.18.0.0/15", // benchmarking
    "198.51.100.0/24", // documentation
    "203.0.113.0/24", // documentation
    "240.0.0.0/4", // future use
    "::/96", // IPv4-compatible (deprecated)
    "64:ff9b::/96", // NAT64: embeds an IPv4 address this policy cannot vouch for
    "64:ff9b:1::/48", // local NAT64
    "100::/64", // discard
    "2001::/32", // Teredo: embeds an IPv4 address
    "2001:db8::/32", // documentation
    "2002::/16", // 6to4: embeds an IPv4 address
    "fec0::/10" // site-local (deprecated)
  ])]
]

/** What kind of address `address` is; undefined when it is not an IP address. */
export const classifyAddress = (address: string): AddressKind | undefined => {
  const family = ipFamily(address)
  if (family === undefined) return undefined
  return specialRanges.find(([, ranges]) => ranges.check(address, family))?.[0] ?? "public"
}

/** allowedHosts or deniedHosts, compiled: exact hostnames, `*.domain` suffixes, addresses, CIDR ranges. */
export interface HostList {
  readonly matchesHost: (hostname: string) => boolean
  readonly matchesAddress: (address: string) => boolean
  /** Only an entry naming this very address (not a range holding it). */
  readonly namesAddress: (address: string) => boolean
}

const hostnamePattern = /^(\*\.)?[a-z0-9_-]+(\.[a-z0-9_-]+)*$/

/** Lower case, no trailing dot, no IPv6 brackets: the form hostnames are compared in. */
export const normalizeHost = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "")

/** Compiles host entries; fails listing the entries that are neither hostname, address nor CIDR range. */
export const compileHostList = (entries: ReadonlyArray<string>): Result.Result<HostList, ReadonlyArray<string>> => {
  const hostnames = new Set<string>()
  const suffixes: Array<string> = []
  const addresses = new BlockList()
  const ranges = new BlockList()
  const invalid: Array<string> = []
  for (const entry of entries) {
    const text = normalizeHost(entry.trim())
    const family = ipFamily(text)
    const cidr = parseCidr(text)
    if (family !== undefined) addresses.addAddress(text, family)
    else if (cidr !== undefined) ranges.addSubnet(cidr.prefix, cidr.length, cidr.family)
    else if (!hostnamePattern.test(text)) invalid.push(entry)
    else if (text.startsWith("*.")) suffixes.push(text.slice(1))
    else hostnames.add(text)
  }
  if (invalid.length > 0) return Result.fail(invalid)
  const inList = (list: BlockList) => (address: string) => {
    const family = ipFamily(address)
    return family !== undefined && list.check(address, family)
  }
  return Result.succeed({
    matchesHost: (hostname) => {
      const host = normalizeHost(hostname)
      return hostnames.has(host) || suffixes.some((suffix) => host.endsWith(suffix))
    },
    matchesAddress: (address) => inList(addresses)(address) || inList(ranges)(address),
    namesAddress: inList(addresses)
  })
}

export interface NetworkPolicy {
  readonly allowed: HostList
  readonly denied: HostList
}

/** The policy of `tools.network`; fails with a message naming the entries that cannot be understood. */
export const makeNetworkPolicy = (network: {
  readonly allowedHosts: ReadonlyArray<string>
  readonly deniedHosts: ReadonlyArray<string>
}): Result.Result<NetworkPolicy, string> => {
  const allowed = compileHostList(network.allowedHosts)
  const denied = compileHostList(network.deniedHosts)
  if (Result.isFailure(allowed) || Result.isFailure(denied)) {
    const invalid = [...(Result.isFailure(allowed) ? allowed.failure : []), ...(Result.isFailure(denied) ? denied.failure : [])]
    const listed = invalid.map((entry) => JSON.stringify(entry)).join(", ")
    return Result.fail(`tools.network has entries that are neither a hostname, an IP address nor a CIDR range: ${listed}`)
  }
  return Result.succeed({ allowed: allowed.success, denied: denied.success })
}

/** Why `hostname` is refused by name alone (before it is resolved), or undefined. */
export const hostRefusal = (policy: NetworkPolicy, hostname: string): string | undefined =>
  policy.denied.matchesHost(hostname) ? `${normalizeHost(hostname)} is in tools.network.deniedHosts` : undefined

const described = (kind: AddressKind) => `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind} address`

/**
 * Why `address` (what `hostname` resolved to; the same when the URL holds an address) is refused, or
 * undefined when it may be reached.
 */
export const addressRefusal = (policy: NetworkPolicy, hostname: string, address: string): string | undefined => {
  const host = normalizeHost(hostname)
  const subject = host === normalizeHost(address) ? address : `${host} resolves to ${address}, which`
  if (policy.denied.matchesAddress(address)) return `${subject} is in tools.network.deniedHosts`
  const kind = classifyAddress(address) ?? "reserved"
  if (kind === "public" || policy.allowed.matchesHost(host)) return undefined
  // metadata endpoints hand out cloud credentials: a range that merely contains them does not open them
  if (kind === "cloud metadata") {
    return policy.allowed.namesAddress(address)
      ? undefined
      : `${subject} is ${described(kind)}; add exactly this address to tools.network.allowedHosts to allow it`
  }
  return policy.allowed.matchesAddress(address)
    ? undefined
    : `${subject} is ${described(kind)}; add it to tools.network.allowedHosts to allow it`
}

/** Address matching for blocklists and trusted proxies (IPv4 and IPv6, single addresses and CIDR ranges). */
import { BlockList, isIP } from "node:net"
import { parseAddressRange } from "../net/addressRange.ts"

/** Strips the IPv4-mapped IPv6 prefix so ::ffff:10.0.0.1 matches 10.0.0.1 rules. */
export const normalizeIp = (ip: string) => (ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip)

/** A BlockList from entries such as "10.0.0.0/8", "2001:db8::/32", "192.0.2.7" (the config Schema checked them). */
export const makeAddressList = (entries: ReadonlyArray<string>) => {
  const list = new BlockList()
  for (const entry of entries) {
    const range = parseAddressRange(entry)
    if (range === undefined) continue
    if (range.bits === undefined) list.addAddress(range.address, range.family)
    else list.addSubnet(range.address, range.bits, range.family)
  }
  return list
}

export const listContains = (list: BlockList, ip: string) => {
  const address = normalizeIp(ip)
  const family = isIP(address)
  return family !== 0 && list.check(address, family === 4 ? "ipv4" : "ipv6")
}

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
 * right-most X-Forwarded-For address that is not itself a trusted proxy.
 */
export const clientAddress = (peer: string, forwardedFor: string | undefined, trusted: BlockList | undefined) => {
  if (trusted === undefined || forwardedFor === undefined || !listContains(trusted, peer)) return normalizeIp(peer)
  const hops = forwardedFor.split(",").map((hop) => hop.trim()).filter((hop) => isIP(normalizeIp(hop)) !== 0)
  for (let i = hops.length - 1; i >= 0; i--) {
    if (!listContains(trusted, hops[i]!)) return normalizeIp(hops[i]!)
  }
  return normalizeIp(hops[0] ?? peer)
}

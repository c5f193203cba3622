/** IP addresses and CIDR ranges, as configuration names them (blocklists, trusted proxies, network policy). */
import { isIP } from "node:net"

export type IpFamily = "ipv4" | "ipv6"

/** "ipv4" or "ipv6" for an IP address, undefined for anything else. */
export const ipFamily = (address: string): IpFamily | undefined => {
  const version = isIP(address)
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : undefined
}

export interface AddressRange {
  readonly address: string
  readonly family: IpFamily
  /** The prefix length, or undefined for a single address. */
  readonly bits: number | undefined
}

/** Parses "192.0.2.7", "10.0.0.0/8" or "2001:db8::/32"; undefined when the text is neither. */
export const parseAddressRange = (text: string): AddressRange | undefined => {
  const [address = "", bits, ...rest] = text.split("/")
  const family = ipFamily(address)
  if (family === undefined || rest.length > 0) return undefined
  if (bits === undefined) return { address, family, bits: undefined }
  const length = /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN
  return length <= (family === "ipv4" ? 32 : 128) ? { address, family, bits: length } : undefined
}

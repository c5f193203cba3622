/** The address policy: classification of IPv4/IPv6 (mapped forms included) and allowed/denied host lists. */
import { Result } from "effect"
import { describe, expect, it } from "vitest"
import {
  addressRefusal,
  classifyAddress,
  compileHostList,
  hostRefusal,
  makeNetworkPolicy,
  type NetworkPolicy
} from "../../../src/tools/web/addressPolicy.ts"

const policy = (allowedHosts: ReadonlyArray<string> = [], deniedHosts: ReadonlyArray<string> = []): NetworkPolicy => {
  const made = makeNetworkPolicy({ allowedHosts, deniedHosts })
  if (Result.isFailure(made)) throw new Error(made.failure)
  return made.success
}

describe("classifyAddress", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["::1", "loopback"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["0:0:0:0:0:ffff:7f00:0001", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["100.127.255.254", "private"],
    ["fc00::1", "private"],
    ["fd12:3456::1", "private"],
    ["::ffff:10.1.2.3", "private"],
    ["::ffff:c0a8:101", "private"],
    ["169.254.1.1", "link-local"],
    ["fe80::1", "link-local"],
    ["febf::1", "link-local"],
    ["::ffff:169.254.9.9", "link-local"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["ff02::1", "multicast"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["::ffff:0.0.0.0", "unspecified"],
    ["255.255.255.255", "broadcast"],
    ["0.1.2.3", "reserved"],
    ["192.0.2.10", "reserved"],
    ["198.18.0.1", "reserved"],
    ["203.0.113.5", "reserved"],
    ["240.0.0.1", "reserved"],
    ["2001:db8::1", "reserved"],
    ["64:ff9b::a00:1", "reserved"],
    ["2002:a00:1::", "reserved"],
    ["::127.0.0.1", "reserved"],
    ["169.254.169.254", "cloud metadata"],
    ["::ffff:169.254.169.254", "cloud metadata"],
    ["::ffff:a9fe:a9fe", "cloud metadata"],
    ["fd00:ec2::254", "cloud metadata"],
    ["100.100.100.200", "cloud metadata"],
    ["8.8.8.8", "public"],
    ["93.184.216.34", "public"],
    ["172.32.0.1", "public"],
    ["100.128.0.1", "public"],
    ["2606:4700::1111", "public"],
    ["::ffff:8.8.8.8", "public"]
  ])("%s is %s", (address, kind) => {
    expect(classifyAddress(address)).toBe(kind)
  })

  it("is undefined for what is not an IP address", () => {
    for (const text of ["localhost", "1.2.3", "", "::g", "[::1]"]) expect(classifyAddress(text)).toBeUndefined()
  })
})

describe("compileHostList", () => {
  const list = (entries: ReadonlyArray<string>) => {
    const compiled = compileHostList(entries)
    if (Result.isFailure(compiled)) throw new Error(`invalid: ${compiled.failure.join(", ")}`)
    return compiled.success
  }

  it("matches IPv4 and IPv6 CIDR ranges, mapped forms included", () => {
    const ranges = list(["10.0.0.0/8", "fd00::/8", "192.168.1.0/24"])
    expect(ranges.matchesAddress("10.200.3.4")).toBe(true)
    expect(ranges.matchesAddress("::ffff:10.200.3.4")).toBe(true)
    expect(ranges.matchesAddress("::ffff:a00:1")).toBe(true)
    expect(ranges.matchesAddress("11.0.0.1")).toBe(false)
    expect(ranges.matchesAddress("fd12::1")).toBe(true)
    expect(ranges.matchesAddress("fc12::1")).toBe(false)
    expect(ranges.matchesAddress("192.168.1.77")).toBe(true)
    expect(ranges.matchesAddress("192.168.2.1")).toBe(false)
    expect(ranges.namesAddress("10.0.0.1")).toBe(false)
  })

  it("matches single addresses in every spelling", () => {
    const addresses = list(["127.0.0.1", "[::1]", "2001:DB8::5"])
    expect(addresses.matchesAddress("::ffff:127.0.0.1")).toBe(true)
    expect(addresses.matchesAddress("::ffff:7f00:1")).toBe(true)
    expect(addresses.matchesAddress("127.0.0.2")).toBe(false)
    expect(addresses.matchesAddress("0:0:0:0:0:0:0:1")).toBe(true)
    expect(addresses.matchesAddress("2001:db8:0::5")).toBe(true)
    expect(addresses.namesAddress("127.0.0.1")).toBe(true)
  })

  it("matches hostnames exactly (case and trailing dot aside) and *.domain suffixes", () => {
    const hosts = list(["Example.COM", "*.internal.test"])
    expect(hosts.matchesHost("example.com")).toBe(true)
    expect(hosts.matchesHost("EXAMPLE.com.")).toBe(true)
    expect(hosts.matchesHost("api.example.com")).toBe(false)
    expect(hosts.matchesHost("a.b.internal.test")).toBe(true)
    expect(hosts.matchesHost("internal.test")).toBe(false)
    expect(hosts.matchesHost("notinternal.test")).toBe(false)
    expect(hosts.matchesAddress("127.0.0.1")).toBe(false)
  })

  it("lists the entries it cannot understand", () => {
    const compiled = compileHostList(["10.0.0.0/33", "fd00::/129", "host name", "1.2.3.4/8/1", "ok.example", "x/8"])
    expect(Result.isFailure(compiled) && compiled.failure).toEqual(["10.0.0.0/33", "fd00::/129", "host name", "1.2.3.4/8/1", "x/8"])
    const made = makeNetworkPolicy({ allowedHosts: ["10.0.0.0/33"], deniedHosts: ["bad host"] })
    expect(Result.isFailure(made) && made.failure).toBe(
      'tools.network has entries that are neither a hostname, an IP address nor a CIDR range: "10.0.0.0/33", "bad host"'
    )
  })
})

describe("addressRefusal", () => {
  it("allows public addresses and refuses the others, naming the kind and the setting", () => {
    expect(addressRefusal(policy(), "8.8.8.8", "8.8.8.8")).toBeUndefined()
    expect(addressRefusal(policy(), "127.0.0.1", "127.0.0.1")).toBe(
      "127.0.0.1 is a loopback address; add it to tools.network.allowedHosts to allow it"
    )
    expect(addressRefusal(policy(), "::ffff:7f00:1", "::ffff:7f00:1")).toBe(
      "::ffff:7f00:1 is a loopback address; add it to tools.network.allowedHosts to allow it"
    )
    expect(addressRefusal(policy(), "[fe80::1]", "fe80::1")).toBe(
      "fe80::1 is a link-local address; add it to tools.network.allowedHosts to allow it"
    )
    expect(addressRefusal(policy(), "0.0.0.0", "0.0.0.0")).toBe(
      "0.0.0.0 is an unspecified address; add it to tools.network.allowedHosts to allow it"
    )
    expect(addressRefusal(policy(), "intranet.example", "10.1.1.1")).toBe(
      "intranet.example resolves to 10.1.1.1, which is a private address; add it to tools.network.allowedHosts to allow it"
    )
  })

  it("allows by address, by range (the mapped form too) or by hostname", () => {
    expect(addressRefusal(policy(["127.0.0.1"]), "127.0.0.1", "127.0.0.1")).toBeUndefined()
    expect(addressRefusal(policy(["127.0.0.1"]), "::ffff:127.0.0.1", "::ffff:127.0.0.1")).toBeUndefined()
    expect(addressRefusal(policy(["127.0.0.1"]), "::1", "::1")).toContain("::1 is a loopback address")
    expect(addressRefusal(policy(["10.0.0.0/8"]), "intranet.example", "10.9.9.9")).toBeUndefined()
    expect(addressRefusal(policy(["fd00::/8"]), "fd01::1", "fd01::1")).toBeUndefined()
    expect(addressRefusal(policy(["intranet.example"]), "intranet.example", "10.9.9.9")).toBeUndefined()
    expect(addressRefusal(policy(["intranet.example"]), "other.example", "10.9.9.9")).toContain("private address")
  })

  it("opens a cloud metadata address only when it is named exactly", () => {
    expect(addressRefusal(policy(["169.254.0.0/16"]), "169.254.169.254", "169.254.169.254")).toBe(
      "169.254.169.254 is a cloud metadata address; add exactly this address to tools.network.allowedHosts to allow it"
    )
    expect(addressRefusal(policy(["169.254.0.0/16"]), "169.254.1.1", "169.254.1.1")).toBeUndefined()
    expect(addressRefusal(policy(["169.254.169.254"]), "169.254.169.254", "169.254.169.254")).toBeUndefined()
    expect(addressRefusal(policy(["fc00::/7"]), "fd00:ec2::254", "fd00:ec2::254")).toContain("cloud metadata")
    expect(addressRefusal(policy(["100.64.0.0/10"]), "100.100.100.200", "100.100.100.200")).toContain("cloud metadata")
  })

  it("denied hosts win over allowed ones and over public addresses", () => {
    const strict = policy(["127.0.0.1", "localhost"], ["127.0.0.0/8", "8.8.8.8", "::ffff:1.1.1.1"])
    expect(addressRefusal(strict, "127.0.0.1", "127.0.0.1")).toBe("127.0.0.1 is in tools.network.deniedHosts")
    expect(addressRefusal(strict, "localhost", "127.0.0.1")).toBe(
      "localhost resolves to 127.0.0.1, which is in tools.network.deniedHosts"
    )
    expect(addressRefusal(strict, "::ffff:7f00:1", "::ffff:7f00:1")).toBe("::ffff:7f00:1 is in tools.network.deniedHosts")
    expect(addressRefusal(strict, "dns.example", "8.8.8.8")).toContain("deniedHosts")
    expect(addressRefusal(strict, "1.1.1.1", "1.1.1.1")).toBe("1.1.1.1 is in tools.network.deniedHosts")
  })

  it("refuses denied hostnames by name", () => {
    const denying = policy([], ["blocked.example", "*.evil.test"])
    expect(hostRefusal(denying, "Blocked.Example.")).toBe("blocked.example is in tools.network.deniedHosts")
    expect(hostRefusal(denying, "x.evil.test")).toBe("x.evil.test is in tools.network.deniedHosts")
    expect(hostRefusal(denying, "fine.example")).toBeUndefined()
  })
})

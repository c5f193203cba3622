/** safeFetch against real local servers: the address policy per hop, redirects, streaming cut, timeout. */
import { Effect, Fiber, Result } from "effect"
import dnsCallbacks from "node:dns"
import dns from "node:dns/promises"
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest"
import { bodyAsText, type FetchRequest, safeFetch } from "../../../src/tools/web/safeFetch.ts"
import { countingClientSockets, type LocalServer, startLocalServer, within } from "./support.ts"

const network = (allowedHosts: ReadonlyArray<string> = ["127.0.0.1"], deniedHosts: ReadonlyArray<string> = [], maxRedirects = 5) => ({
  allowedHosts,
  deniedHosts,
  maxRedirects
})
const defaultNetwork = network([])

const request = (url: string, options: Partial<FetchRequest> = {}): FetchRequest => ({
  url,
  method: "GET",
  maxBytes: 1024 * 1024,
  timeoutMs: 10_000,
  ...options
})

const fetchResult = (req: FetchRequest, net = network()) => Effect.runPromise(Effect.result(safeFetch(req, net)))

const fetchOk = async (req: FetchRequest, net = network()) => {
  const result = await fetchResult(req, net)
  if (Result.isFailure(result)) throw new Error(`expected a response, got: ${result.failure.message}`)
  return result.success
}

/** The failure message, and how many client sockets were opened on the way to it. */
const refusal = async (req: FetchRequest, net = network()) => {
  const { result, socketsOpened } = await countingClientSockets(() => fetchResult(req, net))
  if (Result.isSuccess(result)) throw new Error(`expected a refusal, got status ${result.success.status}`)
  return { message: result.failure.message, socketsOpened }
}

let server: LocalServer
let other: LocalServer
let endless: LocalServer
let silent: LocalServer

beforeAll(async () => {
  server = await startLocalServer((req, res) => {
    const url = new URL(req.url, "http://local")
    const hops = /^\/hops\/(\d+)$/.exec(url.pathname)
    if (hops !== null) {
      const left = Number(hops[1])
      if (left === 0) return res.end("arrived")
      res.writeHead(302, { location: `/hops/${left - 1}` })
      return res.end()
    }
    if (url.pathname === "/to") {
      res.writeHead(Number(url.searchParams.get("status") ?? 302), { location: url.searchParams.get("location") ?? "/" })
      return res.end("redirect body is not read")
    }
    if (url.pathname === "/exact") return res.end("x".repeat(100))
    res.setHeader("content-type", "text/plain; charset=utf-8")
    res.setHeader("x-seen", "yes")
    res.end(JSON.stringify({ method: req.method, path: req.url, body: req.body, headers: req.headers }))
  })
  other = await startLocalServer((req, res) => res.end(JSON.stringify({ headers: req.headers })))
  endless = await startLocalServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" })
    res.flushHeaders() // a HEAD response has no body writes to carry them
    const chunk = Buffer.alloc(4096, 7)
    const timer = setInterval(() => res.write(chunk), 2)
    res.on("close", () => clearInterval(timer))
  })
  silent = await startLocalServer(() => {
    // never answers
  })
})
afterAll(async () => {
  await Promise.all([server, other, endless, silent].map((s) => s?.close()))
})
afterEach(() => {
  vi.restoreAllMocks()
})

describe("address policy on the first hop", () => {
  it("the default configuration refuses loopback before connecting, saying how to allow it", async () => {
    const { message, socketsOpened } = await refusal(request(`${server.origin}/`), defaultNetwork)
    expect(message).toBe(
      `Refused ${server.origin}/: 127.0.0.1 is a loopback address; add it to tools.network.allowedHosts to allow it`
    )
    expect(socketsOpened).toBe(0)
  })

  it("refuses other spellings of loopback: IPv4-mapped IPv6, hex and integer forms", async () => {
    const mapped = await refusal(request(`http://[::ffff:7f00:1]:${server.port}/`), defaultNetwork)
    expect(mapped.message).toContain("::ffff:7f00:1 is a loopback address")
    const hex = await refusal(request(`http://0x7f.1:${server.port}/`), defaultNetwork)
    expect(hex.message).toBe(
      `Refused ${server.origin}/: 127.0.0.1 is a loopback address; add it to tools.network.allowedHosts to allow it`
    )
    const integer = await refusal(request(`http://2130706433:${server.port}/`), defaultNetwork)
    expect(integer.message).toContain("127.0.0.1 is a loopback address")
    expect(mapped.socketsOpened + hex.socketsOpened + integer.socketsOpened).toBe(0)
  })

  it("with 127.0.0.1 allowed, fetches from the local server", async () => {
    const response = await fetchOk(request(`${server.origin}/hello?x=1`, { headers: { "X-Custom": "42" } }))
    expect(response.status).toBe(200)
    expect(response.statusText).toBe("OK")
    expect(response.headers["x-seen"]).toBe("yes")
    expect(response.truncated).toBe(false)
    expect(response.finalUrl).toBe(`${server.origin}/hello?x=1`)
    expect(response.redirects).toEqual([])
    const echoed = JSON.parse(response.body.toString("utf8"))
    expect(echoed).toMatchObject({ method: "GET", path: "/hello?x=1" })
    expect(echoed.headers).toMatchObject({ "x-custom": "42", "accept-encoding": "identity", "user-agent": expect.stringMatching(/^mcp-router-pro\//) })
  })

  it("allows the IPv4-mapped form of an allowed address", async () => {
    const response = await fetchOk(request(`http://[::ffff:127.0.0.1]:${server.port}/mapped`))
    expect(JSON.parse(response.body.toString("utf8")).path).toBe("/mapped")
  })

  it.each([
    ["http://10.0.0.1/", "10.0.0.1 is a private address"],
    ["http://192.168.1.1:8080/admin", "192.168.1.1 is a private address"],
    ["http://[::1]/", "::1 is a loopback address"],
    ["http://[fd00::1]/", "fd00::1 is a private address"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"],
    ["http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"],
    ["http://100.64.1.1/", "100.64.1.1 is a private address"],
    ["http://0.0.0.0/", "0.0.0.0 is an unspecified address"],
    ["http://224.0.0.1/", "224.0.0.1 is a multicast address"],
    ["http://255.255.255.255/", "255.255.255.255 is a broadcast address"]
  ])("refuses %s before connecting", async (url, reason) => {
    const { message, socketsOpened } = await refusal(request(url))
    expect(message).toContain(`Refused ${new URL(url).href}: ${reason}`)
    expect(socketsOpened).toBe(0)
  })

  it("refuses a hostname resolving to loopback unless the hostname (or its address) is allowed", async () => {
    const refused = await refusal(request(`http://localhost:${server.port}/`), defaultNetwork)
    expect(refused.message).toMatch(
      new RegExp(`^Refused http://localhost:${server.port}/: localhost resolves to (127\\.0\\.0\\.1|::1), which is a loopback address; add it to tools\\.network\\.allowedHosts to allow it$`)
    )
    expect(refused.socketsOpened).toBe(0)
    const allowed = await fetchOk(request(`http://localhost:${server.port}/by-name`), network(["localhost"]))
    expect(JSON.parse(allowed.body.toString("utf8")).path).toBe("/by-name")
  })

  it("checks every address a name resolves to, not only the first", async () => {
    vi.spyOn(dns, "lookup").mockResolvedValue([{ address: "127.0.0.1", family: 4 }, { address: "10.0.0.7", family: 4 }] as never)
    const { message, socketsOpened } = await refusal(request(`http://multi.test:${server.port}/`))
    expect(message).toBe(
      `Refused http://multi.test:${server.port}/: multi.test resolves to 10.0.0.7, which is a private address; add it to tools.network.allowedHosts to allow it`
    )
    expect(socketsOpened).toBe(0)
  })

  it("connects to the address it checked, never resolving the name again (DNS rebinding)", async () => {
    const checked = vi.spyOn(dns, "lookup").mockResolvedValue([{ address: "127.0.0.1", family: 4 }] as never)
    // a second answer pointing elsewhere, as a rebinding DNS server would give (still loopback, where nothing listens)
    const rebound = vi.spyOn(dnsCallbacks, "lookup").mockImplementation(((_host: string, _options: unknown, callback: Function) =>
      callback(null, [{ address: "127.0.0.2", family: 4 }])) as never)
    const response = await fetchOk(request(`http://rebind.test:${server.port}/pinned`))
    expect(JSON.parse(response.body.toString("utf8"))).toMatchObject({ path: "/pinned", headers: { host: `rebind.test:${server.port}` } })
    expect(checked).toHaveBeenCalledTimes(1)
    expect(rebound).not.toHaveBeenCalled()
  })

  it("deniedHosts wins over allowedHosts, by range or by name", async () => {
    const byRange = await refusal(request(`${server.origin}/`), network(["127.0.0.1"], ["127.0.0.0/8"]))
    expect(byRange.message).toBe(`Refused ${server.origin}/: 127.0.0.1 is in tools.network.deniedHosts`)
    const byName = await refusal(request(`http://localhost:${server.port}/`), network(["localhost"], ["localhost"]))
    expect(byName.message).toBe(`Refused http://localhost:${server.port}/: localhost is in tools.network.deniedHosts`)
    expect(byRange.socketsOpened + byName.socketsOpened).toBe(0)
  })

  it("refuses a network setting it cannot understand instead of ignoring it", async () => {
    const { message } = await refusal(request(`${server.origin}/`), network(["127.0.0.1"], ["127.0.0.0/40"]))
    expect(message).toContain('neither a hostname, an IP address nor a CIDR range: "127.0.0.0/40"')
  })

  it.each([
    ["file:///etc/passwd", "file:// URLs cannot be fetched; only http:// and https:// are allowed"],
    ["ftp://127.0.0.1/x", "ftp:// URLs cannot be fetched; only http:// and https:// are allowed"],
    ["not a url", '"not a url" is not a valid URL'],
    ["http://", '"http://" is not a valid URL'],
    ["http://user:pw@127.0.0.1/", "URLs with a user name or password are not allowed; send credentials in headers"]
  ])("refuses %s", async (url, message) => {
    expect((await refusal(request(url))).message).toBe(message)
  })
})

describe("redirects", () => {
  it("follows a chain within tools.network.maxRedirects, reporting each hop", async () => {
    const response = await fetchOk(request(`${server.origin}/hops/3`))
    expect(response.body.toString("utf8")).toBe("arrived")
    expect(response.redirects).toEqual([2, 1, 0].map((n) => `${server.origin}/hops/${n}`))
    expect(response.finalUrl).toBe(`${server.origin}/hops/0`)
  })

  it("refuses a chain longer than maxRedirects", async () => {
    expect((await refusal(request(`${server.origin}/hops/6`))).message).toBe(
      `Refused ${server.origin}/hops/6: it redirected more than 5 times (tools.network.maxRedirects)`
    )
    expect((await refusal(request(`${server.origin}/hops/1`), network(["127.0.0.1"], [], 0))).message).toContain(
      "redirected more than 0 times"
    )
  })

  it.each([
    ["http://10.0.0.1/internal", "10.0.0.1 is a private address"],
    ["http://[::1]:1/", "::1 is a loopback address"],
    ["http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"]
  ])("refuses a redirect to %s without connecting to it", async (target, reason) => {
    const start = `${server.origin}/to?location=${encodeURIComponent(target)}`
    const before = server.requests.length
    const { message, socketsOpened } = await refusal(request(start))
    expect(message).toBe(
      `Refused ${new URL(target).href} (redirected from ${start}): ${reason}; add ${reason.includes("metadata") ? "exactly this address" : "it"} to tools.network.allowedHosts to allow it`
    )
    // the one socket is the first hop's, to the allowed local server
    expect(socketsOpened).toBe(1)
    expect(server.requests.length - before).toBe(1)
  })

  it("refuses a redirect to a denied address or hostname without connecting to it", async () => {
    const toAddress = `${server.origin}/to?location=${encodeURIComponent(`http://127.0.0.2:${other.port}/`)}`
    const byAddress = await refusal(request(toAddress), network(["127.0.0.0/8"], ["127.0.0.2"]))
    expect(byAddress.message).toBe(
      `Refused http://127.0.0.2:${other.port}/ (redirected from ${toAddress}): 127.0.0.2 is in tools.network.deniedHosts`
    )
    expect(byAddress.socketsOpened).toBe(1)
    const toName = `${server.origin}/to?location=${encodeURIComponent("http://blocked.test/")}`
    const byName = await refusal(request(toName), network(["127.0.0.1"], ["blocked.test"]))
    expect(byName.message).toBe(`Refused http://blocked.test/ (redirected from ${toName}): blocked.test is in tools.network.deniedHosts`)
    expect(byName.socketsOpened).toBe(1)
    expect(other.requests).toEqual([])
  })

  it.each(["file:///etc/passwd", "ftp://127.0.0.1/", "gopher://127.0.0.1:70/"])("refuses a redirect to %s", async (target) => {
    const start = `${server.origin}/to?location=${encodeURIComponent(target)}`
    const { message } = await refusal(request(start))
    expect(message).toBe(
      `Refused redirect from ${start} to ${target}: ${new URL(target).protocol}// URLs cannot be fetched; only http:// and https:// are allowed`
    )
  })

  it("303 turns a POST into a GET without the body; 307 keeps both", async () => {
    const post = { method: "POST", body: "payload", headers: { "content-type": "text/plain" } }
    const seeOther = await fetchOk(request(`${server.origin}/to?status=303&location=/after`, post))
    expect(JSON.parse(seeOther.body.toString("utf8"))).toMatchObject({ method: "GET", path: "/after", body: "" })
    const temporary = await fetchOk(request(`${server.origin}/to?status=307&location=/after`, post))
    expect(JSON.parse(temporary.body.toString("utf8"))).toMatchObject({ method: "POST", path: "/after", body: "payload" })
  })

  it("keeps credentials on the same origin and drops them when a redirect leaves it", async () => {
    const credentials = {
      headers: { Authorization: "Bearer same-origin-only", "X-Api-Key": "k-123", Cookie: "a=b", "X-Plain": "kept" },
      credentialHeaders: ["x-api-key"]
    }
    const same = await fetchOk(request(`${server.origin}/to?location=/landed`, credentials))
    expect(JSON.parse(same.body.toString("utf8")).headers).toMatchObject({ authorization: "Bearer same-origin-only", "x-api-key": "k-123" })
    const cross = await fetchOk(request(`${server.origin}/to?location=${encodeURIComponent(`${other.origin}/`)}`, credentials))
    const received = JSON.parse(cross.body.toString("utf8")).headers
    expect(received["x-plain"]).toBe("kept")
    expect(received).not.toHaveProperty("authorization")
    expect(received).not.toHaveProperty("x-api-key")
    expect(received).not.toHaveProperty("cookie")
  })
})

describe("body limit, timeout and interruption", () => {
  it("cuts an endless body at maxBytes while it streams and closes the connection", async () => {
    const response = await fetchOk(request(`${endless.origin}/`, { maxBytes: 10_000, timeoutMs: 20_000 }))
    expect(response.truncated).toBe(true)
    expect(response.body.length).toBe(10_000)
    await endless.allSocketsClosed()
  })

  it("a body of exactly maxBytes is not truncated", async () => {
    const response = await fetchOk(request(`${server.origin}/exact`, { maxBytes: 100 }))
    expect(response.truncated).toBe(false)
    expect(response.body.length).toBe(100)
  })

  it("HEAD returns the headers without a body", async () => {
    const response = await fetchOk(request(`${endless.origin}/`, { method: "HEAD" }))
    expect(response.status).toBe(200)
    expect(response.body.length).toBe(0)
    expect(response.truncated).toBe(false)
  })

  it("times out on a server that never answers, naming the limit, and closes the socket", async () => {
    const { message } = await refusal(request(`${silent.origin}/slow`, { timeoutMs: 300 }))
    expect(message).toBe(`GET ${silent.origin}/slow timed out after 300 ms`)
    expect(silent.requests.map((r) => r.url)).toContain("/slow")
    await silent.allSocketsClosed()
  })

  it("interrupting the call aborts the request", async () => {
    const seen = silent.requests.length
    const fiber = Effect.runFork(safeFetch(request(`${silent.origin}/interrupted`, { timeoutMs: 60_000 }), network()))
    await within(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => silent.requests.length > seen && (clearInterval(poll), resolve()), 10)
      }),
      "the request to arrive"
    )
    await Effect.runPromise(Fiber.interrupt(fiber))
    await silent.allSocketsClosed()
  })

  it("reports a refused connection with the address", async () => {
    const closed = await startLocalServer(() => {})
    await closed.close()
    const { message } = await refusal(request(`${closed.origin}/`))
    expect(message).toBe(`GET ${closed.origin}/ failed: connect ECONNREFUSED 127.0.0.1:${closed.port}`)
  })
})

describe("bodyAsText", () => {
  const body = (contentType: string | undefined, bytes: Buffer, truncated = false) =>
    bodyAsText({ headers: contentType === undefined ? {} : { "content-type": contentType }, body: bytes, truncated })

  it("decodes text types in their charset", () => {
    expect(body("text/html; charset=utf-8", Buffer.from("<p>é</p>"))).toEqual({ mediaType: "text/html", encoding: "utf8", text: "<p>é</p>" })
    expect(body("text/plain; charset=ISO-8859-1", Buffer.from([0x63, 0x61, 0x66, 0xe9])).text).toBe("café")
    expect(body("application/problem+json", Buffer.from('{"a":1}')).encoding).toBe("utf8")
    expect(body("text/plain; charset=no-such-charset", Buffer.from("plain")).text).toBe("plain")
  })

  it("returns binary types as base64", () => {
    const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff])
    expect(body("image/png", png)).toEqual({ mediaType: "image/png", encoding: "base64", text: png.toString("base64") })
  })

  it("without a content type, is text when the bytes are UTF-8 and base64 otherwise", () => {
    expect(body(undefined, Buffer.from("just text")).encoding).toBe("utf8")
    expect(body(undefined, Buffer.from([0xff, 0xfe, 0x00, 0x81])).encoding).toBe("base64")
  })

  it("drops a character the cut split in two", () => {
    const cut = Buffer.from("ab€", "utf8").subarray(0, 4)
    expect(body("text/plain", cut, true).text).toBe("ab")
  })
})

/**
 * A round-robin TCP proxy on loopback, run as a process of its own by the `replicas` scenario (so its
 * copying does not share an event loop with the load generator): each new connection goes to the next
 * backend in turn, with no stickiness; a backend that refuses the connection is skipped. Bytes are
 * copied untouched both ways.
 *
 *   node bench/lib/roundRobinProxy.ts <port> <port> ...    prints "listening <port>" once it accepts
 */
import * as net from "node:net"

const ports = process.argv.slice(2).map(Number)
if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port <= 0)) {
  process.stderr.write("usage: node bench/lib/roundRobinProxy.ts <backend port> ...\n")
  process.exit(2)
}

let next = 0
const server = net.createServer((client) => {
  client.pause()
  const connect = (attempt: number) => {
    if (attempt >= ports.length) return client.destroy()
    const upstream = net.connect(ports[next++ % ports.length]!, "127.0.0.1")
    upstream.once("error", (error: NodeJS.ErrnoException) => {
      upstream.destroy()
      if (error.code === "ECONNREFUSED" && !client.destroyed) connect(attempt + 1)
      else client.destroy()
    })
    upstream.once("connect", () => {
      upstream.setNoDelay(true)
      upstream.on("error", () => client.destroy())
      upstream.once("close", () => client.destroy())
      client.once("close", () => upstream.destroy())
      client.pipe(upstream)
      upstream.pipe(client)
      client.resume()
    })
  }
  client.setNoDelay(true)
  client.on("error", () => client.destroy())
  connect(0)
})
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
process.on("SIGTERM", () => process.exit(0))

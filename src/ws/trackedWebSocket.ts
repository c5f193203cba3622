/**
 * The `ws` connections behind effect's WebSocket upgrades, found by their TCP socket. effect's Socket
 * does not expose how many bytes wait to be sent, and a session needs that to notice a client that
 * reads too slowly; the server is told to build its connections with this class.
 */
import type { Socket } from "node:net"
import { WebSocket } from "ws"

const bySocket = new WeakMap<Socket, TrackedWebSocket>()

export class TrackedWebSocket extends WebSocket {
  /** The TCP peer's address, for a session that was given no client address by the HTTP edge. */
  peerAddress: string | undefined = undefined

  setSocket(socket: Socket, head: Buffer, options: object): void {
    bySocket.set(socket, this)
    this.peerAddress = socket.remoteAddress
    // ws declares setSocket internally; its signature is not part of the public typings
    ;(WebSocket.prototype as unknown as { setSocket: (s: Socket, h: Buffer, o: object) => void }).setSocket.call(this, socket, head, options)
  }
}

/** The connection upgraded from this TCP socket, when the server built it with TrackedWebSocket. */
export const webSocketOf = (socket: Socket | undefined) => (socket === undefined ? undefined : bySocket.get(socket))

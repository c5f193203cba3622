/**
 * A small client of the Docker Engine API over its unix socket: one GET with node:http (`socketPath`),
 * a JSON answer, and every way of not getting one turned into a ToolFailure that names the socket.
 */
import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import * as http from "node:http"
import { ToolFailure } from "../ToolDefinition.ts"

const unixScheme = "unix://"

export const unreachable = (socketPath: string, reason: string) =>
  new ToolFailure({ message: `Docker is not reachable at ${socketPath}: ${reason}` })

/** The socket to use: DOCKER_HOST, when set, wins over tools.dockerSocket, as it does for the docker CLI. */
export const resolveDockerSocket = (configured: string, dockerHost: string | undefined) => {
  if (dockerHost === undefined || dockerHost === "") return Effect.succeed(configured)
  if (dockerHost.startsWith(unixScheme) && dockerHost.length > unixScheme.length) {
    return Effect.succeed(dockerHost.slice(unixScheme.length))
  }
  // only the scheme of another kind of address is shown: the rest (ssh://user@host, ...) is none of the model's business
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(dockerHost)?.[0]
  const shown = scheme === undefined || scheme === unixScheme ? dockerHost : `${scheme}...`
  return Effect.fail(
    new ToolFailure({
      message: `DOCKER_HOST=${shown} is not supported: docker_ps reaches Docker only through a unix socket ` +
        `(DOCKER_HOST=unix:///path/to/docker.sock, or tools.dockerSocket)`
    })
  )
}

interface RawReply {
  readonly status: number
  readonly statusText: string
  readonly body: string
}

/** One GET; interrupting the effect aborts the request, which closes its connection. */
const get = (socketPath: string, pathAndQuery: string) =>
  Effect.callback<RawReply, NodeJS.ErrnoException>((resume, signal) => {
    // agent: false gives a connection of its own that closes after the reply instead of idling in a pool
    const request = http.request(
      { socketPath, path: pathAndQuery, method: "GET", agent: false, signal, headers: { accept: "application/json" } },
      (response) => {
        const chunks: Array<Buffer> = []
        response.on("data", (chunk: Buffer) => chunks.push(chunk))
        response.on("error", (error) => resume(Effect.fail(error)))
        response.on("end", () =>
          resume(Effect.succeed({
            status: response.statusCode ?? 0,
            statusText: response.statusMessage ?? "",
            body: Buffer.concat(chunks).toString("utf8")
          }))
        )
      }
    )
    request.on("error", (error) => resume(Effect.fail(error)))
    request.end()
  })

/** Why connecting failed, in words; a refused connection is told apart from a path that is no socket. */
const connectionFailure = (socketPath: string, error: NodeJS.ErrnoException) =>
  Effect.gen(function*() {
    switch (error.code) {
      case "ENOENT":
        return "the socket does not exist"
      case "EACCES":
      case "EPERM":
        return "permission denied (the router's user may not use this socket)"
      case "ECONNRESET":
        return "the connection closed before a complete answer"
      case "ECONNREFUSED": {
        const isSocket = yield* Effect.promise(() => fs.stat(socketPath).then((s) => s.isSocket(), () => true))
        return isSocket ? "connection refused (nothing listens on the socket)" : "the path is not a socket"
      }
      default:
        return error.message
    }
  })

/** The daemon's own words: Engine API errors are `{"message": "..."}`. */
const daemonMessage = (body: string) => {
  try {
    const parsed: unknown = JSON.parse(body)
    if (typeof parsed === "object" && parsed !== null && "message" in parsed && typeof parsed.message === "string") {
      return parsed.message
    }
  } catch {
    // not JSON: the body itself is the message
  }
  return body.trim() === "" ? "(no message)" : body.trim()
}

/** GETs `pathAndQuery` from the Engine API and parses its JSON; no answer within `answerWithinMs` is a failure. */
export const dockerGetJson = (socketPath: string, pathAndQuery: string, answerWithinMs: number) =>
  get(socketPath, pathAndQuery).pipe(
    Effect.catch((error) => Effect.flatMap(connectionFailure(socketPath, error), (reason) => Effect.fail(unreachable(socketPath, reason)))),
    Effect.timeoutOrElse({
      duration: answerWithinMs,
      orElse: () => Effect.fail(unreachable(socketPath, `no answer within ${answerWithinMs} ms`))
    }),
    Effect.flatMap((reply) => {
      if (reply.status < 200 || reply.status > 299) {
        return Effect.fail(
          new ToolFailure({
            message: `Docker at ${socketPath} answered ${reply.status} ${reply.statusText}: ${daemonMessage(reply.body)}`
          })
        )
      }
      return Effect.try({
        try: (): unknown => JSON.parse(reply.body),
        catch: (error) => unreachable(socketPath, `the answer is not valid JSON (${(error as Error).message})`)
      })
    })
  )

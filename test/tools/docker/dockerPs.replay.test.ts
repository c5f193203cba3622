/** docker_ps through the Router against a real unix-socket HTTP server replaying recorded Engine API replies. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach } from "vitest"
import { Router } from "../../../src/router/Router.ts"
import { InvalidArguments, UnknownTool } from "../../../src/router/RouterErrors.ts"
import { containersOf, dockerLayer, dockerPs, missingSocketPath, textOf } from "./dockerTestLayer.ts"
import { allContainers, containerList, error500, type ReplayDaemon, runningContainers, startReplayDaemon } from "./replayDaemon.ts"

const daemons: Array<ReplayDaemon> = []
const startDaemon = (reply: Parameters<typeof startReplayDaemon>[0]) =>
  Effect.promise(() => startReplayDaemon(reply)).pipe(Effect.tap((daemon) => Effect.sync(() => daemons.push(daemon))))
afterEach(async () => {
  await Promise.all(daemons.splice(0).map((daemon) => daemon.close()))
})

describe("docker_ps: listing", () => {
  it.live("lists running containers with short ids, names without slash, ports and ISO creation times", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList(runningContainers))
      const output = yield* dockerPs({}, { dockerSocket: daemon.socketPath })
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(daemon.requests.map((r) => [r.method, r.path, r.query.toString()]), [["GET", "/containers/json", ""]])
      assert.strictEqual(output.structuredContent?.["count"], 2)
      assert.strictEqual(output.structuredContent?.["socket"], daemon.socketPath)
      assert.deepStrictEqual(containersOf(output), [
        {
          id: "8dfafdbc3a40",
          names: ["shop-web-1"],
          image: "nginx:1.27-alpine",
          state: "running",
          status: "Up 2 hours",
          ports: ["0.0.0.0:8080->80/tcp", "[::]:8080->80/tcp", "443/tcp"],
          created: "2024-11-23T12:00:00.000Z"
        },
        {
          id: "c0ffee123456",
          names: ["shop-db-1"],
          image: "postgres:16",
          state: "running",
          status: "Up 3 hours (healthy)",
          ports: ["127.0.0.1:5432->5432/tcp"],
          created: "2024-11-23T11:00:00.000Z"
        }
      ])
      assert.deepStrictEqual(JSON.parse(textOf(output)), output.structuredContent)
    }))

  it.live("all=true asks for all=1 and reports stopped containers too", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList(allContainers))
      const output = yield* dockerPs({ all: true }, { dockerSocket: daemon.socketPath })
      assert.strictEqual(daemon.requests[0]?.query.toString(), "all=1")
      assert.strictEqual(output.structuredContent?.["count"], 3)
      const migrate = containersOf(output).find((c) => c.names.includes("shop-migrate-1"))
      assert.deepStrictEqual(migrate, {
        id: "5eed5eed0011",
        names: ["shop-migrate-1"],
        image: "shop/migrate:2.4.1",
        state: "exited",
        status: "Exited (0) 3 hours ago",
        ports: [],
        created: "2024-11-23T10:59:00.000Z"
      })
    }))

  it.live("filters are sent as one JSON object of string arrays, empty ones left out", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList(allContainers.filter((c) => c.Labels.app === "web")))
      const output = yield* dockerPs(
        { all: true, filters: { label: ["app=web", "com.docker.compose.project"], status: ["running", "paused"], name: [] } },
        { dockerSocket: daemon.socketPath }
      )
      const query = daemon.requests[0]!.query
      assert.deepStrictEqual([...query.keys()], ["all", "filters"])
      assert.strictEqual(query.get("all"), "1")
      assert.deepStrictEqual(JSON.parse(query.get("filters")!), {
        label: ["app=web", "com.docker.compose.project"],
        status: ["running", "paused"]
      })
      assert.deepStrictEqual(containersOf(output).map((c) => c.names), [["shop-web-1"]])
    }))

  it.live("an empty list is a count of 0", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList([]))
      const output = yield* dockerPs({ filters: { name: ["nothing-matches"] } }, { dockerSocket: daemon.socketPath })
      assert.isUndefined(output.isError)
      assert.deepStrictEqual(JSON.parse(daemon.requests[0]!.query.get("filters")!), { name: ["nothing-matches"] })
      assert.deepStrictEqual(output.structuredContent, { socket: daemon.socketPath, count: 0, containers: [] })
    }))

  it.live("a status outside the Engine API's states is refused before any request", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList([]))
      const error = yield* Effect.flip(dockerPs({ filters: { status: ["sleeping"] } }, { dockerSocket: daemon.socketPath }))
      assert.instanceOf(error, InvalidArguments)
      assert.lengthOf(daemon.requests, 0)
    }))
})

describe("docker_ps: Docker not reachable", () => {
  it.live("a 500 from the daemon is an isError result with the status and the daemon's message", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(() => ({ status: 500, json: error500 }))
      const output = yield* dockerPs({}, { dockerSocket: daemon.socketPath })
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), `Docker at ${daemon.socketPath} answered 500 Internal Server Error: ${error500.message}`)
    }))

  it.live("a socket path that does not exist", () =>
    Effect.gen(function*() {
      const socketPath = missingSocketPath()
      const output = yield* dockerPs({}, { dockerSocket: socketPath })
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), `Docker is not reachable at ${socketPath}: the socket does not exist`)
    }))

  it.live("a path that is a regular file, not a socket", () =>
    Effect.gen(function*() {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-docker-file-"))
      const notSocket = path.join(dir, "docker.sock")
      fs.writeFileSync(notSocket, "")
      const output = yield* dockerPs({}, { dockerSocket: notSocket }).pipe(
        Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      )
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), `Docker is not reachable at ${notSocket}: the path is not a socket`)
    }))

  it.live("a socket file nobody listens on: connection refused", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList([]))
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-docker-stale-"))
      const stale = path.join(dir, "docker.sock")
      // a hard link keeps the socket file after its server stops, as a crashed daemon leaves it behind
      fs.linkSync(daemon.socketPath, stale)
      yield* Effect.promise(() => daemon.close())
      const output = yield* dockerPs({}, { dockerSocket: stale }).pipe(
        Effect.ensuring(Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true })))
      )
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), `Docker is not reachable at ${stale}: connection refused (nothing listens on the socket)`)
    }))

  it.live("a daemon that never answers is cut off within tools.timeout and the request is closed", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(() => "never")
      const output = yield* dockerPs({}, { dockerSocket: daemon.socketPath, timeout: 400 })
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), `Docker is not reachable at ${daemon.socketPath}: no answer within 360 ms`)
      assert.lengthOf(daemon.requests, 1)
      yield* Effect.promise(() => daemon.noOpenConnections(5_000))
    }))

  it.live("interrupting the call closes the request", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(() => "never")
      const call = yield* Effect.forkChild(dockerPs({}, { dockerSocket: daemon.socketPath }))
      yield* Effect.promise(() => daemon.requestArrived(5_000))
      yield* Fiber.interrupt(call)
      yield* Effect.promise(() => daemon.noOpenConnections(5_000))
    }))

  it.live("malformed JSON is an isError result", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(() => ({ status: 200, body: "[{\"Id\": \"8dfafdbc3a40\", " }))
      const output = yield* dockerPs({}, { dockerSocket: daemon.socketPath })
      assert.isTrue(output.isError)
      assert.match(textOf(output), new RegExp(`^Docker is not reachable at ${daemon.socketPath}: the answer is not valid JSON \\(.+\\)$`))
    }))

  it.live("JSON that is not a container list is an isError result", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(() => ({ status: 200, json: { containers: [] } }))
      const output = yield* dockerPs({}, { dockerSocket: daemon.socketPath })
      assert.isTrue(output.isError)
      assert.include(textOf(output), `Docker is not reachable at ${daemon.socketPath}: the answer is not a container list`)
    }))
})

describe("docker_ps: DOCKER_HOST", () => {
  const saved = process.env["DOCKER_HOST"]
  afterEach(() => {
    if (saved === undefined) delete process.env["DOCKER_HOST"]
    else process.env["DOCKER_HOST"] = saved
  })

  it.live("unix:///path overrides tools.dockerSocket, read at call time", () =>
    Effect.gen(function*() {
      const daemon = yield* startDaemon(containerList(runningContainers))
      const configured = missingSocketPath()
      process.env["DOCKER_HOST"] = `unix://${daemon.socketPath}`
      const output = yield* dockerPs({}, { dockerSocket: configured })
      assert.isUndefined(output.isError)
      assert.strictEqual(output.structuredContent?.["socket"], daemon.socketPath)
      assert.strictEqual(output.structuredContent?.["count"], 2)
      delete process.env["DOCKER_HOST"]
      const unset = yield* dockerPs({}, { dockerSocket: configured })
      assert.strictEqual(textOf(unset), `Docker is not reachable at ${configured}: the socket does not exist`)
    }))

  it.live("tcp://... is an isError result explaining that only unix sockets are supported", () =>
    Effect.gen(function*() {
      process.env["DOCKER_HOST"] = "tcp://10.0.0.5:2376"
      const output = yield* dockerPs({}, { dockerSocket: missingSocketPath() })
      assert.isTrue(output.isError)
      assert.strictEqual(
        textOf(output),
        "DOCKER_HOST=tcp://... is not supported: docker_ps reaches Docker only through a unix socket " +
          "(DOCKER_HOST=unix:///path/to/docker.sock, or tools.dockerSocket)"
      )
    }))
})

describe("docker_ps: registration", () => {
  it.live("offered with tools.enableReal, read-only and not open-world", () =>
    Effect.gen(function*() {
      const tool = (yield* Router.use((router) => Effect.succeed(router.list({ transport: "http", permissions: ["*"] }))))
        .find((t) => t.name === "docker_ps")
      assert.deepStrictEqual(tool?.annotations, { title: "Docker containers", readOnlyHint: true, openWorldHint: false })
      assert.strictEqual(tool?.inputJsonSchema["type"], "object")
    }).pipe(Effect.provide(dockerLayer({}))))

  it.live("not offered when tools.enableReal is false", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(dockerPs({}, { enableReal: false }))
      assert.instanceOf(error, UnknownTool)
    }))
})

/**
 * docker_ps against a real Engine-API-compatible daemon: podman's API service on a temporary socket.
 * Skipped when podman is not installed (.ci/podman.sh installs it).
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { afterAll, beforeAll } from "vitest"
import { containersOf, dockerPs } from "./dockerTestLayer.ts"
import { podmanInstalled, type PodmanService, startPodmanService, testImage } from "./podmanService.ts"

const title = podmanInstalled
  ? "docker_ps against podman's Engine API service"
  : "docker_ps against podman's Engine API service (skipped: podman is not installed; .ci/podman.sh installs it)"

describe.skipIf(!podmanInstalled)(title, () => {
  let service: PodmanService
  let webId: string
  let workerId: string

  beforeAll(async () => {
    service = await startPodmanService()
    webId = service.podman(["create", "--name", "shop-web", "--label", "app=web", "-p", "127.0.0.1:8080:80", testImage, "/serve"]).trim()
    workerId = service.podman(["create", "--name", "shop-worker", "--label", "app=worker", "--network", "none", testImage, "/work"]).trim()
  })
  afterAll(() => service?.close())

  const names = (output: Parameters<typeof containersOf>[0]) => containersOf(output).flatMap((c) => c.names).sort()
  const ps = (args: unknown) => dockerPs(args, { dockerSocket: service.socketPath })

  it.live("all=true lists the created containers as docker ps shows them", () =>
    Effect.gen(function*() {
      const output = yield* ps({ all: true })
      assert.isUndefined(output.isError)
      assert.strictEqual(output.structuredContent?.["count"], 2)
      const web = containersOf(output).find((c) => c.names.includes("shop-web"))
      assert.deepStrictEqual(web && { ...web, created: undefined }, {
        id: webId.slice(0, 12),
        names: ["shop-web"],
        image: testImage,
        state: "created",
        status: "Created",
        ports: ["127.0.0.1:8080->80/tcp"],
        created: undefined
      })
      assert.strictEqual(new Date(web!.created).toISOString(), web!.created)
      assert.deepStrictEqual(containersOf(output).find((c) => c.names.includes("shop-worker"))?.ports, [])
      assert.isTrue(workerId.startsWith(containersOf(output).find((c) => c.names.includes("shop-worker"))!.id))
    }))

  it.live("without all, only running containers: none here", () =>
    Effect.gen(function*() {
      const output = yield* ps({})
      assert.deepStrictEqual(output.structuredContent, { socket: service.socketPath, count: 0, containers: [] })
    }))

  it.live("filters by label, name and status are understood by the daemon", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(names(yield* ps({ all: true, filters: { label: ["app=web"] } })), ["shop-web"])
      assert.deepStrictEqual(names(yield* ps({ all: true, filters: { name: ["worker"] } })), ["shop-worker"])
      assert.deepStrictEqual(names(yield* ps({ all: true, filters: { status: ["created"] } })), ["shop-web", "shop-worker"])
      assert.deepStrictEqual(names(yield* ps({ all: true, filters: { status: ["running", "exited"] } })), [])
      assert.deepStrictEqual(names(yield* ps({ all: true, filters: { label: ["app=web"], status: ["created"] } })), ["shop-web"])
    }))
})

/**
 * An upstream over Streamable HTTP (server-everything): what it sends on a call's stream (progress, a
 * sampling request) reaches the caller, and what it sends on its own stream (resource updates, list
 * changes) reaches the router, like a stdio upstream's.
 */
import { describe, expect, it } from "vitest"
import { cleanupAfterEach, httpEverything, text, waitFor } from "./support.ts"
import { cleanupRuntimesAfterEach, clientSide, makeRouter } from "./service.ts"

cleanupAfterEach()
cleanupRuntimesAfterEach()


describe("server-everything over Streamable HTTP", () => {
  it("relays progress and a sampling request to the caller, and its resource updates as events", async () => {
    const url = await httpEverything()
    const router = await makeRouter([{ name: "remote", transport: { type: "http", url } }])
    await router.whenUp("remote", "remote__trigger-sampling-request")

    const { context, record } = clientSide({
      progressToken: 42,
      capabilities: { sampling: {} },
      answer: () => ({ role: "assistant", content: { type: "text", text: "over http" }, model: "m" })
    })
    await router.call("remote__trigger-long-running-operation", { duration: 0.6, steps: 3 }, context)
    expect(record.notifications.map((n) => n.params)).toEqual([1, 2, 3].map((progress) => ({ progress, total: 3, progressToken: 42 })))
    expect(text(await router.call("remote__trigger-sampling-request", { prompt: "hi" }, context))).toContain("over http")

    const surface = (await router.upstreams()).surface
    const events = router.events()
    const uri = surface.resources().find((r) => String(r.uri).startsWith("upstream://remote/"))!.uri as string
    await router.run(surface.subscribe(uri))
    await router.call("remote__toggle-subscriber-updates")
    expect(await waitFor("a ResourceUpdated event", () => events.seen.find((e) => e._tag === "ResourceUpdated"))).toEqual({ _tag: "ResourceUpdated", uri })
    await router.call("remote__toggle-subscriber-updates")
    await router.run(surface.unsubscribe(uri))
    events.stop()
  })
})

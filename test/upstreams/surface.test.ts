/**
 * The upstreams' resources, resource templates and prompts as UpstreamSurface offers them: every page of
 * every list, namespaced URIs and names that lead back to the owner, reads through a template, prompts
 * and their completions, counted subscriptions and resource updates, list changes as events, log levels.
 */
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import type { UpstreamRequestFailed } from "../../src/upstreams/surface.ts"
import { cleanupAfterEach, everythingServer, fixture, markerDir, receivedBy, recordedPids, stdio, text, waitFor } from "./support.ts"
import { cleanupRuntimesAfterEach, makeRouter, type Router } from "./service.ts"

cleanupAfterEach()
cleanupRuntimesAfterEach()

type Json = Readonly<Record<string, unknown>>

const surfaceOf = async (router: Router) => (await router.upstreams()).surface
/** The error a surface request failed with. */
const failure = (router: Router, effect: Effect.Effect<unknown, UpstreamRequestFailed>) => router.run(Effect.flip(effect))

/** server-everything behind the recorder (its stdin is kept in the marker folder), as upstream "ev". */
const recordedEverything = async () => {
  const marker = markerDir()
  const router = await makeRouter([{ name: "ev", transport: stdio(fixture("recorder.mjs"), marker, everythingServer, "stdio") }])
  await router.whenUp("ev")
  const received = (method: string) => receivedBy(marker, recordedPids(marker)[0]!).filter((m) => m.method === method)
  return { router, received }
}

describe("lists", () => {
  it("hold every page of every upstream, namespaced", async () => {
    const router = await makeRouter([
      { name: "rich", transport: stdio(fixture("richServer.mjs")) },
      { name: "ev", transport: stdio(everythingServer, "stdio") }
    ])
    await router.whenUp("rich")
    await router.whenUp("ev")
    const surface = await surfaceOf(router)
    const rich = surface.resources().filter((r) => String(r.uri).startsWith("upstream://rich/"))
    // 25 resources, listed 10 a page
    expect(rich).toHaveLength(25)
    expect(rich[24]).toEqual({ uri: `upstream://rich/${encodeURIComponent("fixture://item/24")}`, name: "item 24", mimeType: "text/plain" })
    expect(surface.resources().some((r) => String(r.uri).startsWith("upstream://ev/demo%3A%2F%2F"))).toBe(true)
    expect(surface.resourceTemplates().map((t) => t.uriTemplate).sort()).toEqual([
      "upstream://ev/demo%3A%2F%2Fresource%2Fdynamic%2Fblob%2F{resourceId}",
      "upstream://ev/demo%3A%2F%2Fresource%2Fdynamic%2Ftext%2F{resourceId}",
      "upstream://rich/fixture%3A%2F%2Fitem%2F{id}"
    ])
    expect(surface.prompts().map((p) => p.name)).toEqual(expect.arrayContaining(["rich__greet", "ev__simple-prompt", "ev__completable-prompt"]))
    expect(surface.prompts().find((p) => p.name === "ev__completable-prompt")).toMatchObject({ title: "Team Management", arguments: expect.any(Array) })
  })
})

describe("reading", () => {
  it("a listed resource, and one a client made from a template, come from their upstream with their URIs as exposed", async () => {
    const router = await makeRouter([{ name: "ev", transport: stdio(everythingServer, "stdio") }, { name: "rich", transport: stdio(fixture("richServer.mjs")) }])
    await router.whenUp("ev")
    await router.whenUp("rich")
    const surface = await surfaceOf(router)
    const listed = surface.resources().find((r) => String(r.uri).startsWith("upstream://rich/"))!
    const read = await router.run(surface.readResource({ uri: listed.uri }))
    expect(read.contents).toEqual([{ uri: listed.uri, mimeType: "text/plain", text: "content of fixture://item/0" }])

    const template = surface.resourceTemplates().find((t) => String(t.uriTemplate).includes("text%2F{resourceId}"))!
    const uri = new UriTemplate(template.uriTemplate as string).expand({ resourceId: "5" })
    expect(uri).toBe(`upstream://ev/${encodeURIComponent("demo://resource/dynamic/text/5")}`)
    const made = await router.run(surface.readResource({ uri }))
    const contents = made.contents as Array<Json>
    expect(contents).toHaveLength(1)
    expect(contents[0]).toMatchObject({ uri, mimeType: "text/plain", text: expect.stringMatching(/^Resource 5: This is a plaintext resource/) })

    const blobTemplate = surface.resourceTemplates().find((t) => String(t.uriTemplate).includes("blob%2F{resourceId}"))!
    const blob = await router.run(surface.readResource({ uri: new UriTemplate(blobTemplate.uriTemplate as string).expand({ resourceId: "2" }) }))
    expect(Buffer.from((blob.contents as Array<Json>)[0]!.blob as string, "base64").toString()).toMatch(/^Resource 2: This is a base64 blob/)
  })

  it("fails with the upstream's own error, or -32602 naming what is not offered", async () => {
    const router = await makeRouter([{ name: "ev", transport: stdio(everythingServer, "stdio") }])
    await router.whenUp("ev")
    const surface = await surfaceOf(router)
    const upstreamError = await failure(router, surface.readResource({ uri: `upstream://ev/${encodeURIComponent("demo://resource/dynamic/text/0")}` }))
    expect(upstreamError.message).toContain("Unknown resource")
    expect(upstreamError.code).not.toBe(-32602)
    const gone = await failure(router, surface.readResource({ uri: "upstream://nobody/x" }))
    expect(gone).toMatchObject({ code: -32602, message: `resource "upstream://nobody/x" is not offered now: no upstream that is up offers it` })
    const noPrompt = await failure(router, surface.getPrompt({ name: "ev__no-such-prompt" }))
    expect(noPrompt).toMatchObject({ code: -32602, message: expect.stringContaining(`prompt "ev__no-such-prompt"`) })
  })
})

describe("prompts and completion", () => {
  it("a prompt is got from its upstream, its arguments completed there", async () => {
    const router = await makeRouter([{ name: "ev", prefix: "everything", transport: stdio(everythingServer, "stdio") }])
    await router.whenUp("ev")
    const surface = await surfaceOf(router)
    const got = await router.run(surface.getPrompt({ name: "everything__args-prompt", arguments: { city: "Lyon", state: "Rhône" } }))
    expect(JSON.stringify(got.messages)).toContain("Lyon")

    const department = await router.run(surface.complete({ ref: { type: "ref/prompt", name: "everything__completable-prompt" }, argument: { name: "department", value: "S" } }))
    expect(department.completion).toMatchObject({ values: ["Sales", "Support"] })
    const lead = await router.run(surface.complete({
      ref: { type: "ref/prompt", name: "everything__completable-prompt" },
      argument: { name: "name", value: "" },
      context: { arguments: { department: "Engineering" } }
    }))
    expect(lead.completion).toMatchObject({ values: ["Alice", "Bob", "Charlie"] })

    const template = surface.resourceTemplates().find((t) => String(t.uriTemplate).includes("text%2F{resourceId}"))!
    const id = await router.run(surface.complete({ ref: { type: "ref/resource", uri: template.uriTemplate }, argument: { name: "resourceId", value: "42" } }))
    expect(id.completion).toMatchObject({ values: ["42"] })

    const unknown = await failure(router, surface.complete({ ref: { type: "ref/prompt", name: "ev__completable-prompt" }, argument: { name: "department", value: "" } }))
    expect(unknown.code).toBe(-32602)
  })
})

describe("subscriptions", () => {
  it("are counted: the upstream is asked once, told of the last unsubscribe, and its updates arrive with the exposed URI", async () => {
    const { router, received } = await recordedEverything()
    const surface = await surfaceOf(router)
    const events = router.events()
    const resource = surface.resources().find((r) => String(r.uri).startsWith("upstream://ev/"))!
    const own = decodeURIComponent(String(resource.uri).slice("upstream://ev/".length))
    await router.run(surface.subscribe(resource.uri as string))
    await router.run(surface.subscribe(resource.uri as string))
    expect(received("resources/subscribe").map((m) => m.params)).toEqual([{ uri: own }])

    // the server sends updates of what is subscribed to while this is on
    expect(text(await router.call("ev__toggle-subscriber-updates"))).toContain("Started")
    const updated = await waitFor("a ResourceUpdated event", () => events.seen.find((e) => e._tag === "ResourceUpdated"))
    expect(updated).toEqual({ _tag: "ResourceUpdated", uri: resource.uri })
    await router.call("ev__toggle-subscriber-updates")

    await router.run(surface.unsubscribe(resource.uri as string))
    expect(received("resources/unsubscribe")).toEqual([])
    await router.run(surface.unsubscribe(resource.uri as string))
    await waitFor("the unsubscribe upstream", () => received("resources/unsubscribe").length === 1)
    expect(received("resources/unsubscribe")[0].params).toEqual({ uri: own })
    events.stop()
  })

  it("are refused for an upstream that offers none, and for what nobody offers", async () => {
    const router = await makeRouter([{ name: "rich", transport: stdio(fixture("richServer.mjs")) }])
    await router.whenUp("rich")
    const surface = await surfaceOf(router)
    const uri = surface.resources()[0]!.uri as string
    const refused = await failure(router, surface.subscribe(uri))
    expect(refused).toMatchObject({ code: -32601, message: expect.stringContaining(`upstream "rich" does not offer subscriptions`) })
    const unknown = await failure(router, surface.subscribe("upstream://nobody/x"))
    expect(unknown.code).toBe(-32602)
  })
})

describe("changes and log levels", () => {
  it("list_changed of resources and prompts is read at once and told as events", async () => {
    const router = await makeRouter([{ name: "rich", healthCheckMs: 60_000, transport: stdio(fixture("richServer.mjs")) }])
    await router.whenUp("rich")
    const surface = await surfaceOf(router)
    const events = router.events()
    expect(text(await router.call("rich__change_lists"))).toBe("changed")
    await waitFor("ResourcesChanged and PromptsChanged", () =>
      events.seen.some((e) => e._tag === "ResourcesChanged") && events.seen.some((e) => e._tag === "PromptsChanged"))
    expect(surface.resources().map((r) => r.uri)).toContain(`upstream://rich/${encodeURIComponent("fixture://added")}`)
    expect(surface.resources()).toHaveLength(26)
    expect(surface.prompts().map((p) => p.name)).toContain("rich__added")
    events.stop()
  })

  it("tools/list_changed is read at once and told as an event", async () => {
    const router = await makeRouter([{ name: "up", healthCheckMs: 60_000, transport: stdio(fixture("sdkServer.mjs"), markerDir()) }])
    await router.whenUp("up")
    const events = router.events()
    await router.call("up__add_tool", { name: "late" })
    await router.whenUp("up", "up__late")
    expect(events.seen.some((e) => e._tag === "ToolsChanged")).toBe(true)
    expect(text(await router.call("up__late"))).toBe("I am late")
    events.stop()
  })

  it("the log level asked for goes to upstreams that log", async () => {
    const { router, received } = await recordedEverything()
    const surface = await surfaceOf(router)
    await router.run(surface.setLogLevel("debug"))
    expect(received("logging/setLevel").map((m) => m.params)).toEqual([{ level: "debug" }])
  })
})

/**
 * The MCP protocol surface through the router, with the official `@modelcontextprotocol/server-everything`
 * as an unprefixed stdio upstream, checked with the official SDK client over both transports: Streamable
 * HTTP at /mcp (keys on) and stdio (`src/main.ts stdio`). What the router passes on is compared with what
 * an SDK client gets from the same server directly: tool results (image, audio, embedded resources,
 * resource links, structured content), progress, logging, sampling and elicitation relayed to the client
 * that made the call, completions, resource templates and reads, prompts, subscriptions with their
 * updates, and the upstream's resources/list_changed.
 *
 * server-everything has no audio tool, so the conformance fixture server (test/fixtures/conformanceServer.mjs,
 * whose test_audio_content returns a WAV) sits behind the router too, with the prefix "fixture".
 *
 * server-everything keeps its toggles (simulated logging, subscription updates) per connection; a stdio
 * upstream is one connection for all of a router's clients, so the tests set them on and off explicitly.
 */
import type { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { CreateMessageRequestSchema, ElicitRequestSchema } from "@modelcontextprotocol/sdk/types.js"
import { gunzipSync } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  type ClientOptions,
  conformanceFixture,
  type Connected,
  connectDirect,
  everythingEntry,
  everythingUpstream,
  kinds,
  makeTempDir,
  outcome,
  removeDir,
  sleep,
  startSurface,
  stdioUpstream,
  type Surface,
  text,
  toggleTo,
  toolNames,
  WAIT_MS,
  waitFor
} from "./surfaceHarness.ts"

const FIXED_SAMPLING = {
  model: "surface-test-model",
  role: "assistant" as const,
  content: { type: "text" as const, text: "FIXED SAMPLING REPLY 42" },
  stopReason: "endTurn"
}
const FIXED_ELICITATION = { action: "accept" as const, content: { name: "Ada Lovelace", check: true, integer: 7 } }

interface Asked {
  readonly sampling: Array<any>
  readonly elicitation: Array<any>
}

/** A client that can sample and elicit, answering every such request with the fixed replies above. */
const capable = (asked: Asked, name = "surface-capable"): ClientOptions => ({
  name,
  capabilities: { sampling: {}, elicitation: {} },
  setup: (client) => {
    client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
      asked.sampling.push(request.params)
      return FIXED_SAMPLING
    })
    client.setRequestHandler(ElicitRequestSchema, async (request) => {
      asked.elicitation.push(request.params)
      return FIXED_ELICITATION
    })
  }
})

const callOptions = { timeout: WAIT_MS }
const call = (client: Client, name: string, args: Record<string, unknown> = {}) => client.callTool({ name, arguments: args }, undefined, callOptions) as Promise<any>

/** What must pass through unchanged: content blocks, structured content, the error flag. */
const passedOn = (result: any) => ({ content: result.content, structuredContent: result.structuredContent, isError: result.isError ?? false })

const GZIP_INPUT = "hello through the router"
const dataUri = (textValue: string) => `data:text/plain;base64,${Buffer.from(textValue).toString("base64")}`

let direct: Connected & { close: () => Promise<void> }
let directFixture: Connected & { close: () => Promise<void> }
const directAsked: Asked = { sampling: [], elicitation: [] }

beforeAll(async () => {
  ;[direct, directFixture] = await Promise.all([
    connectDirect([everythingEntry, "stdio"], capable(directAsked, "surface-direct")),
    connectDirect([conformanceFixture])
  ])
  // server-everything registers its sampling and elicitation tools once it knows the client's capabilities
  await waitFor("server-everything's conditional tools (direct)", async () => (await toolNames(direct.client)).includes("trigger-elicitation-request"))
}, 60_000)

afterAll(async () => {
  await Promise.all([direct?.close(), directFixture?.close()])
})

/**
 * `routed` (one call through the router) against the same call made directly just before and just after:
 * results that hold a time of day (server-everything's dynamic resources, to the second) equal one of them.
 */
const expectSameAsDirect = async (routed: () => Promise<any>, directly: () => Promise<any>) => {
  const before = passedOn(await directly())
  const through = passedOn(await routed())
  const after = passedOn(await directly())
  const same = (a: unknown) => JSON.stringify(a) === JSON.stringify(through)
  if (!same(before) && !same(after)) expect(through).toStrictEqual(after)
  return through
}

for (const kind of kinds) {
  describe(`over ${kind === "http" ? "Streamable HTTP at /mcp" : "stdio (src/main.ts stdio)"}`, () => {
    let dir: string
    let surface: Surface
    let main: Connected
    const asked: Asked = { sampling: [], elicitation: [] }

    beforeAll(async () => {
      dir = makeTempDir(`mcp-surface-${kind}-`)
      surface = await startSurface(kind, {
        upstreams: [everythingUpstream(dir), stdioUpstream("fixture", "fixture", [conformanceFixture], dir)]
      }, dir)
      main = await surface.connect({ ...capable(asked), waitForTools: ["get-tiny-image", "fixture__test_audio_content"] })
    }, 60_000)

    afterAll(async () => {
      await surface?.close()
      if (dir !== undefined) removeDir(dir)
    })

    it("lists server-everything's tools under their own names, as the server describes them", async () => {
      const directTools = (await direct.client.listTools(undefined, callOptions)).tools
      const routedTools = new Map((await main.client.listTools(undefined, callOptions)).tools.map((t) => [t.name, t]))
      const shape = (t: any) => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema, outputSchema: t.outputSchema, annotations: t.annotations })
      for (const tool of directTools) {
        expect(routedTools.has(tool.name), `${tool.name} listed through the router`).toBe(true)
        expect(shape(routedTools.get(tool.name))).toStrictEqual(shape(tool))
      }
    })

    it("image, audio, embedded-resource, resource-link and structured results arrive as the upstream sent them", async () => {
      const image = await expectSameAsDirect(() => call(main.client, "get-tiny-image"), () => call(direct.client, "get-tiny-image"))
      const png = Buffer.from(image.content[1].data, "base64")
      expect(image.content[1]).toMatchObject({ type: "image", mimeType: "image/png" })
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))

      const annotated = await expectSameAsDirect(
        () => call(main.client, "get-annotated-message", { messageType: "error", includeImage: true }),
        () => call(direct.client, "get-annotated-message", { messageType: "error", includeImage: true })
      )
      expect(annotated.content[1]).toMatchObject({ type: "image", annotations: { priority: 0.5, audience: ["user"] } })

      const textResource = await expectSameAsDirect(
        () => call(main.client, "get-resource-reference", { resourceType: "Text", resourceId: 3 }),
        () => call(direct.client, "get-resource-reference", { resourceType: "Text", resourceId: 3 })
      )
      expect(textResource.content[1]).toMatchObject({ type: "resource", resource: { uri: "demo://resource/dynamic/text/3", mimeType: "text/plain" } })

      const blobResource = await expectSameAsDirect(
        () => call(main.client, "get-resource-reference", { resourceType: "Blob", resourceId: 4 }),
        () => call(direct.client, "get-resource-reference", { resourceType: "Blob", resourceId: 4 })
      )
      expect(Buffer.from(blobResource.content[1].resource.blob, "base64").toString("utf8")).toMatch(/^Resource 4: This is a base64 blob created at /)

      // a binary embedded resource made from the call's own data: gzip is deterministic, so equal bytes
      const gzipArgs = { name: `content-${kind}.txt.gz`, data: dataUri(GZIP_INPUT), outputType: "resource" }
      const gzipped = await expectSameAsDirect(() => call(main.client, "gzip-file-as-resource", gzipArgs), () => call(direct.client, "gzip-file-as-resource", gzipArgs))
      expect(gzipped.content[0]).toMatchObject({ type: "resource", resource: { mimeType: "application/gzip" } })
      expect(gunzipSync(Buffer.from(gzipped.content[0].resource.blob, "base64")).toString("utf8")).toBe(GZIP_INPUT)

      const links = await expectSameAsDirect(() => call(main.client, "get-resource-links", { count: 3 }), () => call(direct.client, "get-resource-links", { count: 3 }))
      expect(links.content.filter((c: any) => c.type === "resource_link")).toHaveLength(3)

      const structured = await expectSameAsDirect(
        () => call(main.client, "get-structured-content", { location: "Chicago" }),
        () => call(direct.client, "get-structured-content", { location: "Chicago" })
      )
      expect(structured.structuredContent).toStrictEqual({ temperature: 36, conditions: "Light rain / drizzle", humidity: 82 })

      // audio, from the fixture server (prefixed "fixture")
      const audio = await expectSameAsDirect(() => call(main.client, "fixture__test_audio_content"), () => call(directFixture.client, "test_audio_content"))
      expect(audio.content[0]).toMatchObject({ type: "audio", mimeType: "audio/wav" })
      const wav = Buffer.from(audio.content[0].data, "base64")
      expect(wav.subarray(0, 4).toString("ascii")).toBe("RIFF")
      expect(wav.subarray(8, 12).toString("ascii")).toBe("WAVE")
    })

    it("the upstream's progress notifications arrive in order, with increasing progress, before the result", async () => {
      const from = main.seen.received.length
      const result = await main.client.callTool(
        { name: "trigger-long-running-operation", arguments: { duration: 1, steps: 5 } },
        undefined,
        // asks for progress (the SDK sends a progressToken); what arrived is read from the transport below
        { timeout: WAIT_MS, onprogress: () => {} }
      )
      expect(text(result)).toBe("Long running operation completed. Duration: 1 seconds, Steps: 5.")
      const received = main.seen.received.slice(from)
      const answer = received.findIndex((m) => "result" in m && m.result?.content?.[0]?.text === text(result))
      expect(answer).toBeGreaterThan(-1)
      const progress = received.slice(0, answer).filter((m) => m.method === "notifications/progress")
      expect(progress.map((m) => m.params.progress)).toEqual([1, 2, 3, 4, 5])
      expect(progress.every((m) => m.params.total === 5)).toBe(true)
      // under the SDK's own token for this call, and nothing of it after the result
      expect(new Set(progress.map((m) => m.params.progressToken)).size).toBe(1)
      expect(received.slice(answer + 1).filter((m) => m.method === "notifications/progress" && m.params.progressToken === progress[0].params.progressToken)).toEqual([])
    })

    it("after logging/setLevel debug, the upstream's logging messages reach the client", async () => {
      await main.client.setLoggingLevel("debug", callOptions)
      const from = main.seen.logs.length
      await toggleTo(main.client, "toggle-simulated-logging", "Started")
      try {
        // server-everything sends one at once, then one every 5 s, each at a random level
        const log = await waitFor("a notifications/message from server-everything", () =>
          main.seen.logs.slice(from).find((l) => /-level message|level-message/.test(String(l.data))), 8_000)
        expect(["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"]).toContain(log.level)
      } finally {
        await toggleTo(main.client, "toggle-simulated-logging", "Stopped")
      }
    })

    it("a sampling request of the upstream is answered by the client that made the call, and the answer returns", async () => {
      await waitFor("trigger-sampling-request listed (the router's upstream client declares sampling)", async () =>
        (await toolNames(main.client)).includes("trigger-sampling-request"))
      const args = { prompt: "What is 6 x 7?", maxTokens: 20 }
      const result = await call(main.client, "trigger-sampling-request", args)
      expect(result.isError ?? false).toBe(false)
      expect(text(result)).toContain("FIXED SAMPLING REPLY 42")
      expect(text(result)).toContain("surface-test-model")
      expect(asked.sampling.at(-1)).toMatchObject({
        messages: [{ role: "user", content: { type: "text", text: "Resource trigger-sampling-request context: What is 6 x 7?" } }],
        systemPrompt: "You are a helpful test server.",
        maxTokens: 20
      })
      expect(passedOn(result)).toStrictEqual(passedOn(await call(direct.client, "trigger-sampling-request", args)))
    })

    it("an elicitation request of the upstream is answered by the client that made the call, and the answer returns", async () => {
      await waitFor("trigger-elicitation-request listed (the router's upstream client declares elicitation)", async () =>
        (await toolNames(main.client)).includes("trigger-elicitation-request"))
      const result = await call(main.client, "trigger-elicitation-request")
      expect(result.isError ?? false).toBe(false)
      expect(text(result)).toContain("- Name: Ada Lovelace")
      expect(text(result)).toContain("- Agreed to terms: true")
      expect(text(result)).toContain("- Favorite Integer: 7")
      expect(asked.elicitation.at(-1)).toMatchObject({
        message: "Please provide inputs for the following fields:",
        requestedSchema: { type: "object", required: ["name"] }
      })
      expect(passedOn(result)).toStrictEqual(passedOn(await call(direct.client, "trigger-elicitation-request")))
    })

    it("a client without sampling or elicitation gets an error for those tools, not a hang", async () => {
      const asked0 = { sampling: asked.sampling.length, elicitation: asked.elicitation.length }
      const bare = await surface.connect({ name: "surface-bare" })
      const cases = [
        ["trigger-sampling-request", { prompt: "no sampling here" }, /sampling/],
        ["trigger-elicitation-request", {}, /elicitation/]
      ] as const
      for (const [tool, args, names] of cases) {
        const started = Date.now()
        const got = await outcome(bare.client.callTool({ name: tool, arguments: args }, undefined, { timeout: 12_000 }))
        const took = Date.now() - started
        if (got.error !== undefined) {
          // -32001 is the SDK client's own timeout: that would be the hang this test is about
          expect((got.error as any).code, `${tool}: ${String(got.error)}`).not.toBe(-32001)
          expect(String(got.error)).toMatch(names)
        } else {
          expect(got.result.isError, `${tool} answered ${JSON.stringify(got.result)}`).toBe(true)
          // the upstream's error names what the client lacks
          expect(text(got.result)).toMatch(names)
        }
        expect(took, `${tool} took ${took} ms`).toBeLessThan(10_000)
      }
      // and the capable client was not asked in its place
      expect({ sampling: asked.sampling.length, elicitation: asked.elicitation.length }).toEqual(asked0)
    })

    it("completion/complete reaches the upstream's completable prompt and resource template", async () => {
      const requests = [
        [{ ref: { type: "ref/prompt", name: "completable-prompt" }, argument: { name: "department", value: "S" } }, ["Sales", "Support"]],
        [
          { ref: { type: "ref/prompt", name: "completable-prompt" }, argument: { name: "name", value: "" }, context: { arguments: { department: "Engineering" } } },
          ["Alice", "Bob", "Charlie"]
        ],
        [{ ref: { type: "ref/resource", uri: "demo://resource/dynamic/text/{resourceId}" }, argument: { name: "resourceId", value: "12" } }, ["12"]]
      ] as const
      for (const [params, values] of requests) {
        const routed = await main.client.complete(params as any, callOptions)
        expect(routed.completion.values, JSON.stringify(params)).toEqual(values)
        expect(routed).toStrictEqual(await direct.client.complete(params as any, callOptions))
      }
    })

    it("resources, resource templates and prompts are the upstream's; templated and listed resources read", async () => {
      const directTemplates = (await direct.client.listResourceTemplates(undefined, callOptions)).resourceTemplates
      const routedTemplates = (await main.client.listResourceTemplates(undefined, callOptions)).resourceTemplates
      expect(directTemplates.length).toBeGreaterThanOrEqual(2)
      for (const template of directTemplates) expect(routedTemplates).toContainEqual(template)

      const textRead = await main.client.readResource({ uri: "demo://resource/dynamic/text/5" }, callOptions)
      expect(textRead.contents).toHaveLength(1)
      expect(textRead.contents[0]).toMatchObject({ uri: "demo://resource/dynamic/text/5", mimeType: "text/plain" })
      expect((textRead.contents[0] as any).text).toMatch(/^Resource 5: This is a plaintext resource created at /)
      const blobRead = await main.client.readResource({ uri: "demo://resource/dynamic/blob/6" }, callOptions)
      expect(Buffer.from((blobRead.contents[0] as any).blob, "base64").toString("utf8")).toMatch(/^Resource 6: This is a base64 blob created at /)

      const directResources = (await direct.client.listResources(undefined, callOptions)).resources.filter((r) => r.uri.startsWith("demo://resource/static/"))
      const routedResources = (await main.client.listResources(undefined, callOptions)).resources
      expect(directResources.length).toBeGreaterThan(0)
      for (const resource of directResources) expect(routedResources).toContainEqual(resource)
      const uri = directResources[0]!.uri
      expect(await main.client.readResource({ uri }, callOptions)).toStrictEqual(await direct.client.readResource({ uri }, callOptions))

      const directPrompts = (await direct.client.listPrompts(undefined, callOptions)).prompts
      const routedPrompts = (await main.client.listPrompts(undefined, callOptions)).prompts
      for (const prompt of directPrompts) expect(routedPrompts).toContainEqual(prompt)
      const get = { name: "completable-prompt", arguments: { department: "Sales", name: "Eve" } }
      const prompt = await main.client.getPrompt(get, callOptions)
      expect(prompt.messages[0]!.content).toEqual({ type: "text", text: "Please promote Eve to the head of the Sales team." })
      expect(prompt).toStrictEqual(await direct.client.getPrompt(get, callOptions))
    })

    it("resources/subscribe brings notifications/resources/updated for that URI; after unsubscribe none come", async () => {
      const dropped = `demo://resource/dynamic/text/${kind === "http" ? 101 : 201}`
      const kept = `demo://resource/dynamic/text/${kind === "http" ? 102 : 202}`
      const count = (uri: string) => main.seen.updated.filter((u) => u === uri).length
      await main.client.subscribeResource({ uri: dropped }, callOptions)
      await main.client.subscribeResource({ uri: kept }, callOptions)
      try {
        // server-everything sends an update for each subscribed URI when this is started, then every 5 s
        await toggleTo(main.client, "toggle-subscriber-updates", "Started")
        await waitFor(`notifications/resources/updated for ${dropped} and ${kept}`, () => count(dropped) > 0 && count(kept) > 0, 8_000)

        await main.client.unsubscribeResource({ uri: dropped }, callOptions)
        await toggleTo(main.client, "toggle-subscriber-updates", "Stopped")
        const droppedBefore = count(dropped)
        const keptBefore = count(kept)
        await toggleTo(main.client, "toggle-subscriber-updates", "Started")
        // the update for the URI still subscribed shows a round of updates was sent
        await waitFor(`another update for ${kept}`, () => count(kept) > keptBefore, 8_000)
        await sleep(300)
        expect(count(dropped), `updates for ${dropped} after unsubscribing`).toBe(droppedBefore)
      } finally {
        await toggleTo(main.client, "toggle-subscriber-updates", "Stopped").catch(() => undefined)
        await main.client.unsubscribeResource({ uri: kept }, callOptions).catch(() => undefined)
      }
    })

    it("the upstream's resources/list_changed reaches the client, and the new resource is listed and read", async () => {
      const before = main.seen.resourcesChanged
      const name = `listed-${kind}.txt.gz`
      const uri = `demo://resource/session/${name}`
      // server-everything registers a resource for the gzipped data: that is a resources/list_changed
      const result = await call(main.client, "gzip-file-as-resource", { name, data: dataUri(GZIP_INPUT), outputType: "resourceLink" })
      expect(result.content).toEqual([{ type: "resource_link", name, uri, mimeType: "application/gzip" }])
      await waitFor("notifications/resources/list_changed", () => main.seen.resourcesChanged > before, 8_000)
      await waitFor(`${uri} in resources/list`, async () =>
        (await main.client.listResources(undefined, callOptions)).resources.some((r) => r.uri === uri), 8_000)
      const read = await main.client.readResource({ uri }, callOptions)
      expect(gunzipSync(Buffer.from((read.contents[0] as any).blob, "base64")).toString("utf8")).toBe(GZIP_INPUT)
    })
  })
}

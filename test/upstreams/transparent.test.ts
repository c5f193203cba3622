/**
 * An unprefixed upstream (`"prefix": ""`): its tools, prompts, resources and templates are offered under
 * their own names and URIs, and what a client makes from a template reaches it. A name another source
 * already has is refused, never renamed, and the upstream's status says which names and whose they are;
 * names freed when their holder goes are given to the upstream refused them.
 */
import { Effect, Schema } from "effect"
import { describe, expect, it } from "vitest"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { defineTool, textOutput } from "../../src/tools/ToolDefinition.ts"
import { cleanupAfterEach, everythingServer, stdio, text, waitFor } from "./support.ts"
import { cleanupRuntimesAfterEach, makeRouter } from "./service.ts"

cleanupAfterEach()
cleanupRuntimesAfterEach()

const everything = (name: string) => ({ name, prefix: "", healthCheckMs: 60_000, transport: stdio(everythingServer, "stdio") })

describe("an unprefixed upstream", () => {
  it("offers its tools, prompts, resources and templates as they are", async () => {
    const router = await makeRouter([everything("ev")])
    const status = await router.whenUp("ev", "trigger-sampling-request")
    expect(status.tools).toEqual(expect.arrayContaining(["echo", "get-sum", "get-tiny-image"]))
    expect(status.lastError).toBeNull()
    expect(text(await router.call("echo", { message: "straight" }))).toBe("Echo: straight")
    expect((await router.tool("echo")).description).toBe("Echoes back the input string")

    const surface = (await router.upstreams()).surface
    expect(surface.prompts().map((p) => p.name)).toEqual(expect.arrayContaining(["simple-prompt", "completable-prompt"]))
    expect(surface.resources().every((r) => String(r.uri).startsWith("demo://resource/static/document/"))).toBe(true)
    expect(surface.resourceTemplates().map((t) => t.uriTemplate).sort()).toEqual([
      "demo://resource/dynamic/blob/{resourceId}",
      "demo://resource/dynamic/text/{resourceId}"
    ])
    const listed = surface.resources()[0]!
    expect((await router.run(surface.readResource({ uri: listed.uri }))).contents).toEqual([expect.objectContaining({ uri: listed.uri })])
    // made from a template
    const made = await router.run(surface.readResource({ uri: "demo://resource/dynamic/text/3" }))
    expect(made.contents).toEqual([expect.objectContaining({ uri: "demo://resource/dynamic/text/3", text: expect.stringMatching(/^Resource 3: /) })])
    // neither listed nor from a template: the one unprefixed upstream is asked, and answers for itself
    const unknown = await router.run(Effect.flip(surface.readResource({ uri: "demo://resource/nowhere" })))
    expect(unknown.message).not.toContain("not offered now")
    expect(unknown.message).toContain("demo://resource/nowhere")

    const got = await router.run(surface.getPrompt({ name: "simple-prompt" }))
    expect(JSON.stringify(got.messages)).toContain("simple prompt")
    const completed = await router.run(surface.complete({
      ref: { type: "ref/resource", uri: "demo://resource/dynamic/text/{resourceId}" },
      argument: { name: "resourceId", value: "9" }
    }))
    expect(completed.completion).toMatchObject({ values: ["9"] })
    await router.run(surface.subscribe("demo://resource/dynamic/text/3"))
    await router.run(surface.unsubscribe("demo://resource/dynamic/text/3"))
  })

  it("is refused a tool name the router's own tool has, and says so", async () => {
    const builtIn = defineTool({
      name: "echo",
      description: "the router's own echo",
      input: Schema.Struct({ message: Schema.String }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      handler: ({ message }) => Effect.succeed(textOutput(`own: ${message}`))
    })
    const router = await makeRouter([everything("ev")], [builtIn])
    const status = await router.whenUp("ev", "get-sum")
    expect(status.tools).not.toContain("echo")
    expect(status.lastError).toContain(`tool "echo" of upstream "ev" is not offered: the router's built-in tool already has that name`)
    expect(text(await router.call("echo", { message: "hi" }))).toBe("own: hi")
    expect(text(await router.call("get-sum", { a: 1, b: 2 }))).toContain("3")
  })

  it("two of them: each name is offered once, and the upstream refused it names the other", async () => {
    const router = await makeRouter([everything("one"), everything("two")])
    const one = await router.whenUp("one")
    const two = await router.whenUp("two")
    // tools go to the first to come up; the other is refused every one
    const [winner, loser] = one.tools.length > 0 ? [one, two] : [two, one]
    expect(winner.tools).toContain("echo")
    expect(loser.tools).toEqual([])
    const loserStatus = await waitFor("the refusal in the status", async () => {
      const s = await router.status(loser.name)
      return s?.lastError?.includes("tool") ? s : undefined
    })
    expect(loserStatus.lastError).toContain(`tool "echo" of upstream "${loser.name}" is not offered: upstream "${winner.name}" already has that name`)

    // prompts, resources and templates go to the first in the configuration
    const surface = (await router.upstreams()).surface
    expect(surface.prompts().filter((p) => p.name === "simple-prompt")).toHaveLength(1)
    expect(surface.resourceTemplates()).toHaveLength(2)
    const twoStatus = await router.status("two")
    expect(twoStatus?.lastError).toContain(`prompt "simple-prompt" of upstream "two" is not offered: upstream "one" offers a prompt of that name`)
    expect(twoStatus?.lastError).toContain(`resource template "demo://resource/dynamic/text/{resourceId}" of upstream "two" is not offered: upstream "one" offers that template`)
    expect((await router.status("one"))?.lastError ?? "").not.toContain("prompt")

    // with the winner gone, the other is given its names at once (the health check is a minute away)
    await router.run(AppConfig.use((config) => config.update({ upstreams: [everything(loser.name)] })))
    const alone = await router.whenUp(loser.name, "echo")
    expect(text(await router.call("echo", { message: "taken over" }))).toBe("Echo: taken over")
    await waitFor("no refusal left", async () => (await router.status(loser.name))?.lastError === null)
    expect(alone.tools).toEqual(expect.arrayContaining(["get-sum", "get-tiny-image"]))
    expect(surface.prompts().filter((p) => p.name === "simple-prompt")).toHaveLength(1)
  })
})

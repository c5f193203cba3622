/** The registry, the Router's call path (decode, timeout, failures, defects) and ToolStats. */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Logger, Metric, Schema } from "effect"
import { afterEach, beforeEach } from "vitest"
import { ToolStats } from "../../src/observability/ToolStats.ts"
import { Router } from "../../src/router/Router.ts"
import { InvalidArguments, UnknownTool } from "../../src/router/RouterErrors.ts"
import { defineTool, ToolFailure, textOutput } from "../../src/tools/ToolDefinition.ts"
import { ToolRegistry } from "../../src/tools/ToolRegistry.ts"
import { builtInTools } from "../support/builtInTools.ts"
import { caller, callTool, coreLayer, type Fixture, makeFixture, put, textOf } from "./fixtures.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const toolNames = Router.use((router) => Effect.succeed(router.list(caller).map((tool) => tool.name)))
const findTool = (name: string) => ToolRegistry.use((registry) => Effect.succeed(registry.find(name)))

const echoToolOptions = {
  description: "Returns its text",
  input: Schema.Struct({ text: Schema.String }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler: (input: { readonly text: string }) => Effect.succeed(textOutput(input.text))
} as const

const echoTool = defineTool({
  ...echoToolOptions,
  name: "echo",
  handler: (input) => Effect.succeed(textOutput(input.text, { echoed: input.text }))
})
const sleepyTool = defineTool({
  name: "sleepy",
  description: "Sleeps far longer than tools.timeout",
  input: Schema.Struct({}),
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler: () => Effect.sleep("5 seconds").pipe(Effect.as(textOutput("woke up")))
})
const crashingTool = defineTool({
  name: "crashing",
  description: "Dies",
  input: Schema.Struct({}),
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler: () => Effect.die(new Error("boom inside the tool"))
})
const failingTool = defineTool({
  name: "failing",
  description: "Fails with a ToolFailure",
  input: Schema.Struct({}),
  annotations: { readOnlyHint: true, openWorldHint: false },
  handler: () => Effect.fail(new ToolFailure({ message: "failing could not do it" }))
})

/** The core layer plus custom tools added the way a library user adds them. */
const withCustomTools = (tools: Record<string, unknown> = {}) =>
  ToolRegistry.provide(Effect.succeed([echoTool, sleepyTool, crashingTool, failingTool])).pipe(
    Layer.provideMerge(coreLayer(fx.root, tools))
  )

describe("ToolRegistry: built-in tools", () => {
  it.effect("tools.enableReal=false offers only the read-only file tools", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* toolNames, ["read_file", "list_directory", "search_files"])
      const error = yield* Effect.flip(callTool("write_file", { path: "x.txt", content: "x" }))
      assert.instanceOf(error, UnknownTool)
    }).pipe(Effect.provide(coreLayer(fx.root, { enableReal: false }))))

  it.effect("tools.enableReal=true offers write_file and the other real tools too", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* toolNames, builtInTools)
    }).pipe(Effect.provide(coreLayer(fx.root, { enableReal: true }))))

  it.effect("an unknown tool fails with UnknownTool naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(callTool("no_such_tool", {}))
      assert.instanceOf(error, UnknownTool)
      assert.strictEqual(error._tag, "UnknownTool")
      assert.include(error.message, "\"no_such_tool\"")
      assert.include(error.message, "tools/list")
    }).pipe(Effect.provide(coreLayer(fx.root))))

  it.effect("read_file's input JSON Schema refuses unknown keys and requires path", () =>
    Effect.gen(function*() {
      const tool = yield* findTool("read_file")
      const schema = tool?.inputJsonSchema ?? {}
      assert.strictEqual(schema["type"], "object")
      assert.strictEqual(schema["additionalProperties"], false)
      assert.deepStrictEqual(schema["required"], ["path"])
      assert.hasAllKeys(schema["properties"] as object, ["path", "encoding", "offset", "length"])
      for (const name of ["list_directory", "search_files", "write_file"]) {
        const other = (yield* findTool(name))?.inputJsonSchema ?? {}
        assert.strictEqual(other["type"], "object", name)
        assert.strictEqual(other["additionalProperties"], false, name)
      }
      assert.deepStrictEqual(((yield* findTool("write_file"))?.inputJsonSchema ?? {})["required"], ["path", "content"])
    }).pipe(Effect.provide(coreLayer(fx.root))))

  it.effect("annotations are truthful", () =>
    Effect.gen(function*() {
      for (const name of ["read_file", "list_directory", "search_files"]) {
        const annotations = (yield* findTool(name))?.annotations
        assert.isTrue(annotations?.readOnlyHint, name)
        assert.isFalse(annotations?.openWorldHint, name)
      }
      const write = (yield* findTool("write_file"))?.annotations
      assert.isFalse(write?.readOnlyHint)
      assert.isTrue(write?.destructiveHint)
      assert.isFalse(write?.openWorldHint)
    }).pipe(Effect.provide(coreLayer(fx.root))))
})

describe("ToolStats", () => {
  it.effect("records calls and errors per tool; invalid arguments count as errors", () =>
    Effect.gen(function*() {
      put(fx.root, "a.txt", "a")
      const stats = yield* ToolStats
      yield* callTool("read_file", { path: "a.txt" })
      yield* callTool("read_file", { path: "missing.txt" })
      yield* Effect.flip(callTool("read_file", { path: 5 }))
      yield* callTool("list_directory", {})
      yield* Effect.flip(callTool("no_such_tool", {}))
      const snapshot = yield* stats.snapshot
      assert.deepInclude(snapshot.tools["read_file"], { calls: 3, errors: 2 })
      assert.deepInclude(snapshot.tools["list_directory"], { calls: 1, errors: 0 })
      assert.isUndefined(snapshot.tools["no_such_tool"])
      assert.deepStrictEqual(snapshot.totals, { calls: 4, errors: 2 })
      assert.deepInclude(snapshot.tools["read_file"], { invalid: 1 })
      assert.isAtLeast(snapshot.tools["read_file"]?.maxMs ?? -1, 0)
      // a fresh registry: the numbers are this test's calls only
    }).pipe(Effect.provide(coreLayer(fx.root)), Effect.provideService(Metric.MetricRegistry, new Map())))
})

describe("Router: custom tools added through ToolRegistry.provide", () => {
  it.effect("a custom tool is listed and callable, and its arguments are decoded", () =>
    Effect.gen(function*() {
      assert.includeMembers(yield* toolNames, ["read_file", "echo"])
      const output = yield* callTool("echo", { text: "hi there" })
      assert.strictEqual(textOf(output), "hi there")
      assert.deepStrictEqual(output.structuredContent, { echoed: "hi there" })
      const error = yield* Effect.flip(callTool("echo", { text: 1 }))
      assert.instanceOf(error, InvalidArguments)
      if (error instanceof InvalidArguments) assert.deepStrictEqual(error.problems.map((p) => p.path), ["text"])
    }).pipe(Effect.provide(withCustomTools())))

  it.effect("a tool's failure is an isError result with its message", () =>
    Effect.gen(function*() {
      const output = yield* callTool("failing", {})
      assert.isTrue(output.isError)
      assert.strictEqual(textOf(output), "failing could not do it")
      assert.deepInclude((yield* (yield* ToolStats).snapshot).tools["failing"], { calls: 1, errors: 1 })
    }).pipe(Effect.provide(withCustomTools())))

  it.live("a tool exceeding tools.timeout returns isError naming tools.timeout", () =>
    Effect.gen(function*() {
      const output = yield* callTool("sleepy", {})
      assert.isTrue(output.isError)
      assert.include(textOf(output), "sleepy")
      assert.include(textOf(output), "50 ms")
      assert.include(textOf(output), "tools.timeout")
      assert.deepInclude((yield* (yield* ToolStats).snapshot).tools["sleepy"], { calls: 1, errors: 1 })
    }).pipe(Effect.provide(withCustomTools({ timeout: 50 }))))

  it.effect("a tool that dies returns isError, is logged, and the router keeps working", () => {
    const logged: Array<unknown> = []
    const capture = Logger.make((options) => void logged.push(options.message))
    return Effect.gen(function*() {
      const output = yield* callTool("crashing", {})
      assert.isTrue(output.isError)
      assert.include(textOf(output), "crashing failed unexpectedly")
      assert.notInclude(textOf(output), "boom inside the tool")
      assert.include(JSON.stringify(logged), "tool crashed")
      assert.deepInclude((yield* (yield* ToolStats).snapshot).tools["crashing"], { calls: 1, errors: 1 })
      assert.strictEqual(textOf(yield* callTool("echo", { text: "still alive" })), "still alive")
    }).pipe(Effect.provide(Layer.merge(withCustomTools(), Logger.layer([capture]))))
  })

  it.effect("a tool name already taken is a defect when the layer is built", () =>
    Effect.gen(function*() {
      const clash = defineTool({ ...echoToolOptions, name: "read_file" })
      const layer = ToolRegistry.provide(Effect.succeed([clash])).pipe(Layer.provideMerge(coreLayer(fx.root)))
      const exit = yield* Effect.exit(Effect.provide(toolNames, layer))
      assert.strictEqual(exit._tag, "Failure")
      assert.include(String(exit._tag === "Failure" ? exit.cause : ""), "registered twice")
    }))

  it.effect("a tool leaves the registry when the scope that added it closes", () =>
    Effect.gen(function*() {
      const registry = yield* ToolRegistry
      yield* Effect.scoped(
        Effect.gen(function*() {
          yield* registry.register([echoTool])
          assert.isDefined(registry.find("echo"))
        })
      )
      assert.isUndefined(registry.find("echo"))
      assert.instanceOf(yield* Effect.flip(callTool("echo", { text: "x" })), UnknownTool)
    }).pipe(Effect.provide(coreLayer(fx.root))))

  it("defineTool refuses a name MCP clients cannot call", () => {
    assert.throws(() => defineTool({ ...echoToolOptions, name: "has space" }), /must match/)
    assert.throws(() => defineTool({ ...echoToolOptions, name: "" }), /must match/)
  })
})

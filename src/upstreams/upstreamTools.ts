/**
 * An upstream's tools as router tools: named `<prefix>__<tool>` (or as they are, unprefixed), filtered,
 * listed with what the upstream said of them, each call routed to the upstream. A call carries the
 * caller's CallContext to the connection, so what the upstream sends during it (progress, log lines,
 * sampling, elicitation, roots) reaches that caller; interrupting the call cancels it upstream; its
 * result comes back exactly as the upstream sent it.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { UpstreamConfig } from "../config/schema.ts"
import { CallContext } from "../mcp/CallContext.ts"
import { upstreamCalls, upstreamDuration } from "../observability/instruments.ts"
import { globToRegExp } from "../tools/files/glob.ts"
import { type ContentBlock, defineRawTool, inFamily, type ToolDefinition, ToolFailure, type ToolOutput } from "../tools/ToolDefinition.ts"
import { prefixOf } from "./catalog.ts"
import type { UpstreamConnection, UpstreamRequestError } from "./connect.ts"
import { exposedNames } from "./toolNames.ts"

type Json = Readonly<Record<string, unknown>>

const matchesAny = (globs: ReadonlyArray<string>, name: string) => globs.some((glob) => globToRegExp(glob).test(name))

/** The tools the configuration lets through (include, exclude), each name once. */
export const offeredTools = (upstream: UpstreamConfig, tools: ReadonlyArray<Json>) => {
  const seen = new Set<string>()
  return tools.filter((tool) => {
    const name = tool.name as string
    if (seen.has(name)) return false
    seen.add(name)
    return (upstream.include === undefined || matchesAny(upstream.include, name)) && !matchesAny(upstream.exclude, name)
  })
}

const recordCall = (upstream: string, outcome: string, started: number) =>
  Effect.andThen(
    Metric.update(Metric.withAttributes(upstreamCalls, { upstream, outcome }), 1),
    Metric.update(Metric.withAttributes(upstreamDuration, { upstream }), (performance.now() - started) / 1000)
  )

const failureOf = (upstream: UpstreamConfig, error: UpstreamRequestError) =>
  new ToolFailure({
    message: error.kind === "timeout"
      ? `upstream "${upstream.name}" did not answer within ${upstream.timeoutMs} ms (upstreams[].timeoutMs)`
      : error.kind === "closed"
      ? `upstream "${upstream.name}" failed: the connection ended before it answered`
      : error.kind === "failed"
      ? error.message
      : `upstream "${upstream.name}" failed: ${error.message}`
  })

/** The result as the upstream sent it: content blocks, structuredContent, isError and _meta untouched. */
const toOutput = (result: Json): ToolOutput => {
  const structured = result.structuredContent
  const meta = result._meta
  return {
    content: (Array.isArray(result.content) ? result.content : []) as ReadonlyArray<ContentBlock>,
    ...(typeof structured === "object" && structured !== null ? { structuredContent: structured as Record<string, unknown> } : {}),
    ...(result.isError === true ? { isError: true } : {}),
    ...(typeof meta === "object" && meta !== null ? { _meta: meta as Record<string, unknown> } : {})
  }
}

/** Runs one tools/call on the connection, as the call of the client in the current CallContext (if any). */
const callTool = (upstream: UpstreamConfig, connection: UpstreamConnection, name: string, args: Record<string, unknown>) =>
  Effect.gen(function*() {
    const context = yield* Effect.serviceOption(CallContext)
    yield* connection.relay.track(context)
    // progress is asked of the upstream only for a client that asked for it, and reaches it under its own token
    const token = Option.isSome(context) ? context.value.progressToken : undefined
    const onprogress = Option.isSome(context) && token !== undefined
      ? (progress: Json) => {
        connection.relay.deliver(context.value.client.notify("notifications/progress", { ...progress, progressToken: token }))
      }
      : undefined
    const result = yield* connection.request("tools/call", { name, arguments: args }, {
      timeoutMs: upstream.timeoutMs,
      timeoutSetting: "upstreams[].timeoutMs",
      onprogress
    })
    // what the upstream sent before its result reaches the client before the result does
    yield* connection.relay.flush
    return toOutput(result)
  }).pipe(Effect.scoped)

export interface UpstreamToolSet {
  readonly definitions: ReadonlyArray<ToolDefinition>
  /** Why tools were left out (an unprefixed upstream's names already taken). */
  readonly problems: ReadonlyArray<string>
}

/** What tools/list shows of an upstream tool beyond name, description and input schema: all it listed. */
const listingOf = (tool: Json): Record<string, unknown> => {
  const { name: _name, description: _description, inputSchema: _inputSchema, ...rest } = tool
  return rest
}

export const toToolDefinitions = (
  upstream: UpstreamConfig,
  connection: UpstreamConnection,
  tools: ReadonlyArray<Json>,
  taken: ReadonlyMap<string, string>
): UpstreamToolSet => {
  const offered = offeredTools(upstream, tools)
  const prefix = prefixOf(upstream)
  const { names, refused } = exposedNames(upstream.name, prefix, offered.map((t) => t.name as string), taken)
  const definitions = offered.filter((tool) => names.has(tool.name as string)).map((tool) => {
    const original = tool.name as string
    const annotations = (typeof tool.annotations === "object" && tool.annotations !== null ? tool.annotations : {}) as Json
    const inputSchema = typeof tool.inputSchema === "object" && tool.inputSchema !== null ? tool.inputSchema as Record<string, unknown> : { type: "object" }
    const description = typeof tool.description === "string" ? tool.description : undefined
    return defineRawTool({
      name: names.get(original)!,
      // a transparent upstream's tools are listed as it lists them
      description: prefix === "" ? description ?? "" : `[${upstream.name}] ${description ?? original}`,
      inputJsonSchema: inputSchema,
      // the MCP defaults where the upstream is silent: not read-only, destructive, open world
      annotations: {
        ...(typeof annotations.title === "string" ? { title: annotations.title } : {}),
        readOnlyHint: annotations.readOnlyHint === true,
        destructiveHint: annotations.destructiveHint !== false,
        idempotentHint: annotations.idempotentHint === true,
        openWorldHint: annotations.openWorldHint !== false
      },
      listing: listingOf(tool),
      handler: (args) => {
        const started = performance.now()
        return callTool(upstream, connection, original, args).pipe(
          Effect.tap((output) => recordCall(upstream.name, output.isError === true ? "error" : "ok", started)),
          Effect.tapError(() => recordCall(upstream.name, "failed", started)),
          Effect.mapError((error) => failureOf(upstream, error))
        )
      }
    })
  })
  return {
    definitions: inFamily("upstream", definitions),
    problems: refused.map(({ tool, takenBy }) => `tool "${tool}" of upstream "${upstream.name}" is not offered: ${takenBy} already has that name`)
  }
}

/** An upstream's tools as router tools: named `<prefix>__<tool>`, filtered, each call routed to the upstream. */
import { Duration, Effect, Metric, Schema } from "effect"
import { type McpClient, McpSchema } from "effect/ai"
import type { UpstreamConfig } from "../config/schema.ts"
import { upstreamCalls, upstreamDuration } from "../observability/instruments.ts"
import { globToRegExp } from "../tools/files/glob.ts"
import { type ContentBlock, defineRawTool, inFamily, type ToolDefinition, ToolFailure } from "../tools/ToolDefinition.ts"
import { exposedNames } from "./toolNames.ts"

const encodeResult = Schema.encodeSync(McpSchema.CallToolResult)

const matchesAny = (globs: ReadonlyArray<string>, name: string) => globs.some((glob) => globToRegExp(glob).test(name))

export const offeredTools = (upstream: UpstreamConfig, tools: ReadonlyArray<McpSchema.Tool>) =>
  tools.filter((tool) =>
    (upstream.include === undefined || matchesAny(upstream.include, tool.name)) && !matchesAny(upstream.exclude, tool.name)
  )

const recordCall = (upstream: string, outcome: string, started: number) =>
  Effect.andThen(
    Metric.update(Metric.withAttributes(upstreamCalls, { upstream, outcome }), 1),
    Metric.update(Metric.withAttributes(upstreamDuration, { upstream }), (performance.now() - started) / 1000)
  )

export const toToolDefinitions = (
  upstream: UpstreamConfig,
  client: McpClient.McpClient,
  tools: ReadonlyArray<McpSchema.Tool>,
  taken: ReadonlySet<string>
): ReadonlyArray<ToolDefinition> => {
  const offered = offeredTools(upstream, tools)
  const names = exposedNames(upstream.name, upstream.prefix ?? upstream.name, offered.map((t) => t.name), taken)
  return inFamily("upstream", offered.map((tool) =>
    defineRawTool({
      name: names.get(tool.name)!,
      description: `[${upstream.name}] ${tool.description ?? tool.name}`,
      inputJsonSchema: tool.inputSchema as Record<string, unknown>,
      // the MCP defaults where the upstream is silent: not read-only, destructive, open world
      annotations: {
        ...(tool.annotations?.title === undefined ? {} : { title: tool.annotations.title }),
        readOnlyHint: tool.annotations?.readOnlyHint ?? false,
        destructiveHint: tool.annotations?.destructiveHint ?? true,
        idempotentHint: tool.annotations?.idempotentHint ?? false,
        openWorldHint: tool.annotations?.openWorldHint ?? true
      },
      handler: (args) => {
        const started = performance.now()
        return client.callTool({ tool, arguments: args }, { timeout: Duration.millis(upstream.timeoutMs) }).pipe(
          // the client decoded binary content (images, audio, blobs) to bytes: the wire wants base64 again
          Effect.map((decoded) => encodeResult(decoded)),
          Effect.map((result) => ({
            content: result.content as unknown as ReadonlyArray<ContentBlock>,
            ...(result.structuredContent === undefined ? {} : { structuredContent: result.structuredContent as Record<string, unknown> }),
            ...(result.isError === true ? { isError: true } : {})
          })),
          Effect.tap((output) => recordCall(upstream.name, output.isError === true ? "error" : "ok", started)),
          Effect.tapError(() => recordCall(upstream.name, "failed", started)),
          Effect.mapError((error) =>
            new ToolFailure({
              message: error.reason._tag === "TimeoutError"
                ? `upstream "${upstream.name}" did not answer within ${upstream.timeoutMs} ms (upstreams[].timeoutMs)`
                : `upstream "${upstream.name}" failed: ${error.message}`
            })
          )
        )
      }
    })
  ))
}

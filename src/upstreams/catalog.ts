/**
 * Upstream resources and prompts, namespaced like tools: a resource's URI becomes
 * `upstream://<upstream>/<original URI, encoded>`, a prompt's name `<prefix>__<prompt>`.
 */
import { Duration, Effect } from "effect"
import { type McpClient, McpSchema } from "effect/ai"
import type { UpstreamConfig } from "../config/schema.ts"
import { separator } from "./toolNames.ts"

export interface CatalogEntry<A> {
  readonly upstream: string
  /** What the router's clients see. */
  readonly exposed: A
  readonly client: McpClient.McpClient
  /** The upstream's own resource or prompt. */
  readonly original: A
}

export interface UpstreamCatalog {
  readonly resources: ReadonlyArray<CatalogEntry<McpSchema.Resource>>
  readonly prompts: ReadonlyArray<CatalogEntry<McpSchema.Prompt>>
}

export const emptyCatalog: UpstreamCatalog = { resources: [], prompts: [] }

export const resourceUri = (upstream: string, uri: string) => `upstream://${upstream}/${encodeURIComponent(uri)}`

/** Resources and prompts of an upstream; a server that offers neither (or refuses to list them) has none. */
export const fetchCatalog = (upstream: UpstreamConfig, client: McpClient.McpClient): Effect.Effect<UpstreamCatalog> => {
  const timeout = Duration.millis(Math.min(upstream.healthCheckMs, 10_000))
  const prefix = upstream.prefix ?? upstream.name
  return Effect.all([
    client.listResources({ timeout }).pipe(Effect.orElseSucceed(() => [])),
    client.listPrompts({ timeout }).pipe(Effect.orElseSucceed(() => []))
  ]).pipe(
    Effect.map(([resources, prompts]) => ({
      resources: resources.map((original) => ({
        upstream: upstream.name,
        client,
        original,
        exposed: new McpSchema.Resource({ ...original, uri: resourceUri(upstream.name, original.uri) })
      })),
      prompts: prompts.map((original) => ({
        upstream: upstream.name,
        client,
        original,
        exposed: new McpSchema.Prompt({ ...original, name: `${prefix}${separator}${original.name}` })
      }))
    }))
  )
}

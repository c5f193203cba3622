/**
 * Offers the upstreams' resources and prompts to effect's McpServer under their namespaced URIs and
 * names. Reads and gets go to the upstream that is up now; entries of an upstream that went away are
 * hidden from the lists, and asking for them says so.
 */
import { Context, Effect, Layer, Stream } from "effect"
import { McpSchema, McpServer } from "effect/ai"
import { Upstreams } from "../upstreams/Upstreams.ts"

const gone = (what: string) => new McpSchema.InternalError({ message: `${what} is not offered now: its upstream is down or removed` })
const upstreamFailed = (upstream: string, error: { readonly message: string }) =>
  new McpSchema.InternalError({ message: `upstream "${upstream}" failed: ${error.message}` })

const CatalogVisibility = Upstreams.use((upstreams) =>
  Effect.succeed(McpServer.visibility((options) =>
    Effect.sync(() => {
      const catalog = upstreams.catalog()
      switch (options.method) {
        case "resources/list":
          return !options.target.startsWith("upstream://") || catalog.resources.some((r) => r.exposed.uri === options.target)
        case "prompts/list":
          return catalog.prompts.some((p) => p.exposed.name === options.target)
        default:
          return true
      }
    }), { global: true }))
)

const OfferedCatalog = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* McpServer.McpServer
    const upstreams = yield* Upstreams
    const offeredResources = new Set<string>()
    const offeredPrompts = new Set<string>()

    const read = (uri: string) =>
      Effect.suspend(() => {
        const entry = upstreams.catalog().resources.find((r) => r.exposed.uri === uri)
        if (entry === undefined) return Effect.fail(gone(`resource ${uri}`))
        return entry.client.readResource({ uri: entry.original.uri }).pipe(
          // the contents name the resource as the router's clients know it
          Effect.map((result) => ({
            ...result,
            contents: result.contents.map((c) => (c.uri === entry.original.uri ? { ...c, uri } : c))
          }) as McpSchema.ReadResourceResult),
          Effect.mapError((e) => upstreamFailed(entry.upstream, e))
        )
      })

    const get = (name: string, params: Record<string, string>) =>
      Effect.suspend(() => {
        const entry = upstreams.catalog().prompts.find((p) => p.exposed.name === name)
        if (entry === undefined) return Effect.fail(gone(`prompt ${name}`))
        return entry.client.getPrompt({ prompt: entry.original, arguments: params }).pipe(Effect.mapError((e) => upstreamFailed(entry.upstream, e)))
      })

    const offer = Effect.gen(function*() {
      const catalog = upstreams.catalog()
      for (const entry of catalog.resources) {
        if (offeredResources.has(entry.exposed.uri)) continue
        offeredResources.add(entry.exposed.uri)
        yield* server.addResource({ resource: entry.exposed, annotations: Context.empty(), handle: read(entry.exposed.uri) })
      }
      for (const entry of catalog.prompts) {
        if (offeredPrompts.has(entry.exposed.name)) continue
        offeredPrompts.add(entry.exposed.name)
        const name = entry.exposed.name
        yield* server.addPrompt({ prompt: entry.exposed, annotations: Context.empty(), completions: {}, handle: (params) => get(name, params) })
      }
    })
    yield* offer
    yield* upstreams.catalogChanges.pipe(Stream.runForEach(() => offer), Effect.forkScoped)
  })
)

export const McpUpstreamCatalogLayer = Layer.mergeAll(Layer.unwrap(CatalogVisibility), OfferedCatalog)

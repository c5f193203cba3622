/**
 * Upstream resources, resource templates and prompts as the router's clients see them. A prefixed
 * upstream's resource URI becomes `upstream://<upstream>/<original URI, encoded>`, a template the same
 * with its `{...}` expressions left as they are (so a URI a client expands from it decodes back to the
 * upstream's own), a prompt's name `<prefix>__<prompt>`. An unprefixed upstream (`"prefix": ""`) offers
 * them as they are. An exposed name or URI is offered once: a second upstream that would offer the same
 * one is refused it, with a problem naming both.
 */
import { UriTemplate } from "@modelcontextprotocol/sdk/shared/uriTemplate.js"
import * as Effect from "effect/Effect"
import type { UpstreamConfig } from "../config/schema.ts"
import type { UpstreamConnection } from "./connect.ts"
import { UpstreamRequestFailed } from "./surface.ts"
import { separator } from "./toolNames.ts"

export type Json = Readonly<Record<string, unknown>>

/** Pages read of one list at most; a server that keeps handing out cursors is cut off there. */
export const maxPages = 100

/** What an upstream lists, as it sent it. */
export interface UpstreamLists {
  readonly resources: ReadonlyArray<Json>
  readonly resourceTemplates: ReadonlyArray<Json>
  readonly prompts: ReadonlyArray<Json>
}

export const emptyLists: UpstreamLists = { resources: [], resourceTemplates: [], prompts: [] }

/** The prefix of an upstream's names: its `prefix`, else its name; `""` offers names unchanged. */
export const prefixOf = (upstream: UpstreamConfig) => upstream.prefix ?? upstream.name

export const scheme = "upstream://"

export const resourceUri = (upstream: string, uri: string) => `${scheme}${upstream}/${encodeURIComponent(uri)}`

/** A URI template under `upstream://<upstream>/`: everything encoded but its `{...}` expressions. */
export const templateUri = (upstream: string, template: string) =>
  `${scheme}${upstream}/${template.split(/(\{[^{}]*\})/u).map((part, i) => (i % 2 === 1 ? part : encodeURIComponent(part))).join("")}`

/** `upstream://<upstream>/<rest>` split into the upstream and its own URI, when `uri` has that form. */
export const parseExposedUri = (uri: string): { readonly upstream: string; readonly uri: string } | undefined => {
  if (!uri.startsWith(scheme)) return undefined
  const slash = uri.indexOf("/", scheme.length)
  if (slash < 0) return undefined
  try {
    return { upstream: uri.slice(scheme.length, slash), uri: decodeURIComponent(uri.slice(slash + 1)) }
  } catch {
    return undefined
  }
}

/** The URI clients know for an upstream's own URI. */
export const exposeUri = (upstream: UpstreamConfig, uri: string) => (prefixOf(upstream) === "" ? uri : resourceUri(upstream.name, uri))

export const exposePromptName = (upstream: UpstreamConfig, name: string) => {
  const prefix = prefixOf(upstream)
  return prefix === "" ? name : `${prefix}${separator}${name}`
}

const isObject = (value: unknown): value is Json => typeof value === "object" && value !== null && !Array.isArray(value)

/**
 * Every page of a list (`tools/list`, `resources/list`, ...), at most `maxPages`; items that are not
 * objects carrying `field` as a string are left out.
 */
export const listAll = (connection: UpstreamConnection, method: string, key: string, field: string, timeoutMs: number) =>
  Effect.gen(function*() {
    const items: Array<Json> = []
    const seen = new Set<string>()
    let cursor: string | undefined
    for (let page = 0; page < maxPages; page++) {
      const result = yield* connection.request(method, cursor === undefined ? undefined : { cursor }, {
        timeoutMs,
        timeoutSetting: "upstreams[].healthCheckMs, at most 10000 ms a page"
      })
      const list = result[key]
      if (!Array.isArray(list)) {
        return yield* new UpstreamRequestFailed({ code: -32603, message: `upstream "${connection.name}" answered ${method} without a "${key}" list` })
      }
      for (const item of list) if (isObject(item) && typeof item[field] === "string") items.push(item)
      const next = result.nextCursor
      if (typeof next !== "string" || next === "" || seen.has(next)) break
      seen.add(next)
      cursor = next
    }
    return items
  })

/** One exposed item: the upstream that owns it, what clients see, and the upstream's own item. */
export interface Offered {
  readonly upstream: string
  readonly exposed: Json
  readonly original: Json
}

export interface OfferedTemplate extends Offered {
  /** Matches URIs (as the upstream knows them) made from the template, when the template can be parsed. */
  readonly matcher: UriTemplate | undefined
}

/** The resources, templates and prompts the router offers, with the problems of what it refused. */
export interface Offering {
  readonly resources: ReadonlyArray<Offered>
  readonly resourceTemplates: ReadonlyArray<OfferedTemplate>
  readonly prompts: ReadonlyArray<Offered>
  readonly resourceByUri: ReadonlyMap<string, Offered>
  readonly templateByUri: ReadonlyMap<string, OfferedTemplate>
  readonly promptByName: ReadonlyMap<string, Offered>
  /** Upstream name → why some of its items are not offered. */
  readonly problems: ReadonlyMap<string, ReadonlyArray<string>>
}

export const emptyOffering: Offering = {
  resources: [],
  resourceTemplates: [],
  prompts: [],
  resourceByUri: new Map(),
  templateByUri: new Map(),
  promptByName: new Map(),
  problems: new Map()
}

const matcherOf = (template: string): UriTemplate | undefined => {
  try {
    return new UriTemplate(template)
  } catch {
    return undefined
  }
}

/**
 * What the upstreams that are up offer together, in configuration order: the first upstream to offer an
 * exposed URI or prompt name keeps it, a later one is refused it.
 */
export const buildOffering = (upstreams: ReadonlyArray<{ readonly config: UpstreamConfig; readonly lists: UpstreamLists }>): Offering => {
  const resourceByUri = new Map<string, Offered>()
  const templateByUri = new Map<string, OfferedTemplate>()
  const promptByName = new Map<string, Offered>()
  const problems = new Map<string, Array<string>>()
  const refuse = (upstream: string, problem: string) => {
    const list = problems.get(upstream) ?? []
    list.push(problem)
    problems.set(upstream, list)
  }
  for (const { config, lists } of upstreams) {
    const name = config.name
    for (const original of lists.resources) {
      const uri = exposeUri(config, original.uri as string)
      const owner = resourceByUri.get(uri)
      if (owner !== undefined) {
        if (owner.upstream !== name) refuse(name, `resource "${uri}" of upstream "${name}" is not offered: upstream "${owner.upstream}" offers that URI`)
        continue
      }
      resourceByUri.set(uri, { upstream: name, original, exposed: { ...original, uri } })
    }
    for (const original of lists.resourceTemplates) {
      const template = original.uriTemplate as string
      const uriTemplate = prefixOf(config) === "" ? template : templateUri(name, template)
      const owner = templateByUri.get(uriTemplate)
      if (owner !== undefined) {
        if (owner.upstream !== name) {
          refuse(name, `resource template "${uriTemplate}" of upstream "${name}" is not offered: upstream "${owner.upstream}" offers that template`)
        }
        continue
      }
      templateByUri.set(uriTemplate, { upstream: name, original, exposed: { ...original, uriTemplate }, matcher: matcherOf(template) })
    }
    for (const original of lists.prompts) {
      const exposedName = exposePromptName(config, original.name as string)
      const owner = promptByName.get(exposedName)
      if (owner !== undefined) {
        if (owner.upstream !== name) refuse(name, `prompt "${exposedName}" of upstream "${name}" is not offered: upstream "${owner.upstream}" offers a prompt of that name`)
        continue
      }
      promptByName.set(exposedName, { upstream: name, original, exposed: { ...original, name: exposedName } })
    }
  }
  return {
    resources: Array.from(resourceByUri.values()),
    resourceTemplates: Array.from(templateByUri.values()),
    prompts: Array.from(promptByName.values()),
    resourceByUri,
    templateByUri,
    promptByName,
    problems
  }
}

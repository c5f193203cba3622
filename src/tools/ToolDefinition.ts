/**
 * A tool is defined once: name, description, input Schema (its JSON Schema is what tools/list shows),
 * truthful MCP annotations and an Effect handler.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"

export interface ToolAnnotations {
  readonly title?: string
  /** The tool does not change its environment. */
  readonly readOnlyHint: boolean
  /** The tool may delete or overwrite (meaningful when not read-only). */
  readonly destructiveHint?: boolean
  /** Repeating a call with the same arguments has no further effect. */
  readonly idempotentHint?: boolean
  /** The tool reaches outside the router's machine (network, external services). */
  readonly openWorldHint: boolean
}

export interface TextContent {
  readonly type: "text"
  readonly text: string
}

/** Any MCP content block (text, image, audio, resource, resource_link), as upstream servers send them. */
export type ContentBlock = TextContent | { readonly type: "image" | "audio" | "resource" | "resource_link"; readonly [key: string]: unknown }

/** What a handler returns: MCP content blocks and optionally the same result as structured JSON. */
export interface ToolOutput {
  readonly content: ReadonlyArray<ContentBlock>
  readonly structuredContent?: Record<string, unknown>
  /** The tool ran but its outcome is a failure the model should read (a non-zero exit, say). */
  readonly isError?: boolean
  /** The result's `_meta`, passed on as it is (an upstream server's). */
  readonly _meta?: Record<string, unknown>
}

/** A failure while a tool runs: reported to the caller as an `isError` result with this message. */
export class ToolFailure extends Schema.TaggedError<ToolFailure>()("ToolFailure", {
  message: Schema.String
}) {}

/** Any tagged error with a message (ToolFailure, PathRefused, ...): the caller reads the message. */
export interface ToolError {
  readonly _tag: string
  readonly message: string
}

export interface ToolDefinition {
  readonly name: string
  readonly description: string
  readonly inputSchema: Schema.Top
  /** JSON Schema of the input, generated once from `inputSchema`. */
  readonly inputJsonSchema: Record<string, unknown>
  readonly annotations: ToolAnnotations
  /** Decodes untrusted arguments; unknown keys are refused so typos are not silently ignored. */
  readonly decode: (args: unknown) => Effect.Effect<unknown, Schema.SchemaError>
  readonly run: (input: unknown) => Effect.Effect<ToolOutput, ToolError>
  /** The family whose concurrency bound (tools.concurrency) the tool's calls share; none: unbounded (quick calls). */
  readonly family?: ToolFamily
  /**
   * More of the tools/list entry, merged over what the fields above make of it: an upstream tool's own
   * `title`, `annotations`, `outputSchema`, `icons`, `_meta`, ... as its server listed them.
   */
  readonly listing?: Readonly<Record<string, unknown>>
}

/** Tool families with a bound on calls running at once: workers, processes, sockets, database and upstream connections. */
export type ToolFamily = "search" | "process" | "network" | "sql" | "upstream"

/** The tools, as members of a family. */
export const inFamily = (family: ToolFamily, tools: ReadonlyArray<ToolDefinition>): ReadonlyArray<ToolDefinition> =>
  tools.map((tool) => ({ ...tool, family }))

const toolNamePattern = /^[A-Za-z0-9_.-]{1,64}$/

export const defineTool = <S extends Schema.Top & { readonly DecodingServices: never }>(options: {
  readonly name: string
  readonly description: string
  readonly input: S
  readonly annotations: ToolAnnotations
  readonly handler: (input: S["Type"]) => Effect.Effect<ToolOutput, ToolError>
}): ToolDefinition => {
  if (!toolNamePattern.test(options.name)) {
    throw new Error(`Tool name "${options.name}" must match ${toolNamePattern}`)
  }
  const document = Schema.toJsonSchemaDocument(options.input, { onExcessProperty: "error" })
  const root = document.schema as Record<string, unknown>
  // MCP wants an object root; an empty Struct renders as "anything but null", so it is spelled out
  const objectRoot = root.type === "object"
    ? root
    : options.input.ast._tag === "Objects"
    ? { type: "object", properties: {}, additionalProperties: false }
    : undefined
  if (objectRoot === undefined) throw new Error(`Tool "${options.name}": its input must be a Schema.Struct`)
  return {
    name: options.name,
    description: options.description,
    inputSchema: options.input,
    inputJsonSchema: Object.keys(document.definitions).length === 0 ? objectRoot : { ...objectRoot, $defs: document.definitions },
    annotations: options.annotations,
    decode: Schema.decodeUnknownEffect(options.input, { onExcessProperty: "error", errors: "all" }) as ToolDefinition["decode"],
    run: options.handler as ToolDefinition["run"]
  }
}

const ArgumentsObject = Schema.Record(Schema.String, Schema.Unknown)

/**
 * A tool known only by its JSON Schema (an upstream server's): the arguments are passed on as an object,
 * and the server that owns the schema checks them.
 */
export const defineRawTool = (options: {
  readonly name: string
  readonly description: string
  readonly inputJsonSchema: Record<string, unknown>
  readonly annotations: ToolAnnotations
  readonly handler: (input: Record<string, unknown>) => Effect.Effect<ToolOutput, ToolError>
  /** See ToolDefinition.listing. */
  readonly listing?: Readonly<Record<string, unknown>>
}): ToolDefinition => ({
  name: options.name,
  description: options.description,
  inputSchema: ArgumentsObject,
  inputJsonSchema: options.inputJsonSchema,
  annotations: options.annotations,
  decode: Schema.decodeUnknownEffect(ArgumentsObject),
  run: options.handler as ToolDefinition["run"],
  ...(options.listing === undefined ? {} : { listing: options.listing })
})

/** A plain-text result with the same data as structured JSON. */
export const jsonOutput = (value: Record<string, unknown>): ToolOutput => ({
  content: [{ type: "text", text: JSON.stringify(value, null, 2) }],
  structuredContent: value
})

export const textOutput = (text: string, structured?: Record<string, unknown>): ToolOutput =>
  structured === undefined ? { content: [{ type: "text", text }] } : { content: [{ type: "text", text }], structuredContent: structured }

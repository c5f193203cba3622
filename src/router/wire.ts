/**
 * The one place where errors and results become wire formats: JSON-RPC codes, HTTP statuses and MCP
 * errors. Entry points call these and never pick a code themselves.
 */
import { McpSchema } from "effect/ai"
import type { ToolDefinition, ToolOutput } from "../tools/ToolDefinition.ts"
import type { RouterError } from "./RouterErrors.ts"

export const JsonRpcCode = {
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603
} as const
export type JsonRpcCode = (typeof JsonRpcCode)[keyof typeof JsonRpcCode]

export interface JsonRpcErrorObject {
  readonly code: number
  readonly message: string
  readonly data?: unknown
}

/** HTTP status of a single JSON-RPC response that carries this error code. */
export const httpStatusOfJsonRpcCode = (code: number): number => {
  switch (code) {
    case JsonRpcCode.ParseError:
    case JsonRpcCode.InvalidRequest:
    case JsonRpcCode.InvalidParams:
      return 400
    case JsonRpcCode.MethodNotFound:
      return 404
    default:
      return 500
  }
}

export const routerErrorToJsonRpc = (error: RouterError): JsonRpcErrorObject => {
  switch (error._tag) {
    case "UnknownTool":
      return { code: JsonRpcCode.InvalidParams, message: error.message, data: { tool: error.name } }
    case "InvalidArguments":
      return { code: JsonRpcCode.InvalidParams, message: error.message, data: { tool: error.tool, problems: error.problems } }
  }
}

export const routerErrorToMcp = (error: RouterError) => new McpSchema.InvalidParams({ message: error.message })

/** A tool's output as the `result` of tools/call. */
export const toCallToolResult = (output: ToolOutput) => ({
  content: output.content,
  ...(output.structuredContent === undefined ? {} : { structuredContent: output.structuredContent }),
  isError: output.isError === true
})

/** A tool as tools/list shows it. */
export const toToolListing = (tool: ToolDefinition) => ({
  name: tool.name,
  ...(tool.annotations.title === undefined ? {} : { title: tool.annotations.title }),
  description: tool.description,
  inputSchema: tool.inputJsonSchema,
  // every hint spelled out, so clients do not fall back on the spec's pessimistic defaults
  annotations: {
    ...tool.annotations,
    destructiveHint: tool.annotations.destructiveHint ?? false,
    idempotentHint: tool.annotations.idempotentHint ?? tool.annotations.readOnlyHint
  }
})

/** The JSON body of every HTTP error the router sends. */
export const httpErrorBody = (code: string, message: string, details?: unknown) => ({
  error: details === undefined ? { code, message } : { code, message, details }
})

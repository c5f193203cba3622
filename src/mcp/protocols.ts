import { McpProtocol } from "effect/ai"

/** MCP revisions the router speaks, newest first (the SDK clients negotiate among these). */
export const mcpProtocols = [
  McpProtocol.v2026_07_28,
  McpProtocol.v2025_11_25,
  McpProtocol.v2025_06_18,
  McpProtocol.v2025_03_26,
  McpProtocol.v2024_11_05
] as const

export const serverInstructions =
  "MCP Router Pro: file, command and network tools confined to a working directory, plus tools of upstream MCP servers."

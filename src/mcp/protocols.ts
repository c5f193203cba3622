/** MCP revisions the router speaks. */

/** Revisions that open a session with initialize, newest first (the SDK clients negotiate among these). */
export const initializeVersions: ReadonlyArray<string> = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"]

/** The revision without initialize or sessions: each request says who the client is in its `_meta`. */
export const sessionlessVersion = "2026-07-28"

export const latestVersion = initializeVersions[0]!

export const supportedVersions: ReadonlyArray<string> = [sessionlessVersion, ...initializeVersions]

export const serverInstructions =
  "MCP Router Pro: file, command and network tools confined to a working directory, plus tools of upstream MCP servers."

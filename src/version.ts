import packageJson from "../package.json" with { type: "json" }

export const serverName = "mcp-router-pro"
export const version: string = packageJson.version

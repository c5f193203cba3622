#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping), so there is no build step.
const major = Number(process.versions.node.split(".")[0])
if (major < 24) {
  process.stderr.write(`mcp-router needs Node.js 24 or newer (this is ${process.version}); npm start and npx mcp-router use the project's own Node 24.\n`)
  process.exit(1)
}
const { main } = await import("../src/main.ts")
main()

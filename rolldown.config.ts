/**
 * The command's bundle (dist/bin/), made from the compiled dist/ by `npm run build`. One file and a few
 * lazily loaded chunks start in about a third of the time of the ~600 modules dist/ spreads the router and
 * its dependencies over: Node resolves, reads and links each module on its own. The workers are entries
 * too, so each sits beside the chunk that starts it, where the code looks for it. dist/ stays the library.
 */
import { defineConfig } from "rolldown"

export default defineConfig({
  input: {
    "mcp-router": "dist/main.js",
    searchWorker: "dist/tools/files/searchWorker.js",
    sqliteWorker: "dist/tools/sql/sqliteWorker.js"
  },
  platform: "node",
  logLevel: "warn",
  output: { dir: "dist/bin", format: "esm", entryFileNames: "[name].js", chunkFileNames: "[name]-[hash].js" }
})

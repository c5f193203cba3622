import { configDefaults, defineConfig } from "vitest/config"

// the soak tests (test/**/*.soak.test.ts: minutes of load beside a race loop) run on their own:
// `npm run test:soak` sets MCP_SOAK=1, and .ci/run runs it after the main tests
const soak = process.env["MCP_SOAK"] === "1"

export default defineConfig({
  test: {
    include: soak ? ["test/**/*.soak.test.ts"] : ["test/**/*.test.ts"],
    exclude: soak ? configDefaults.exclude : [...configDefaults.exclude, "test/**/*.soak.test.ts"],
    testTimeout: soak ? 900_000 : 30_000,
    hookTimeout: 60_000,
    // end-to-end tests start real servers and child processes; keep the 2-core machine responsive
    maxWorkers: soak ? 1 : 2
  }
})

import { configDefaults, defineConfig } from "vitest/config"

// the soak and load tests (test/**/*.soak.test.ts: a race loop beside thousands of calls, 400 searches
// with a latency bound) run on their own, one file at a time:
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

import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // end-to-end tests start real servers and child processes; keep the 2-core machine responsive
    maxWorkers: 2
  }
})

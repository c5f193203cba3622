/**
 * /health/live and /health/ready on a real router: ready while the database answers and the
 * configuration holds, 503 with the reason when either fails; both probes are public.
 */
import { Effect, Fiber, Option } from "effect"
import { SqlClient } from "effect/sql"
import * as fs from "node:fs"
import { describe, expect, it } from "vitest"
import { ToolRegistry } from "../../src/tools/ToolRegistry.ts"
import { call, cleanupAfterEach, start, tempDir } from "../security/support.ts"
import { startServer } from "../support/server.ts"

cleanupAfterEach()

/** An extra-tools Layer that registers nothing and hands the test the router's own database client. */
const capturingDatabase = () => {
  const captured: { sql?: SqlClient.SqlClient } = {}
  const layer = ToolRegistry.provide(Effect.map(Effect.serviceOption(SqlClient.SqlClient), (sql) => {
    if (Option.isSome(sql)) captured.sql = sql.value
    return []
  }))
  return { captured, layer }
}

describe("health probes", () => {
  it("answer live and ready to anyone, even with keys required", async () => {
    const server = await start()
    const live = await call(`${server.url}/health/live`)
    expect([live.status, live.json]).toEqual([200, { status: "ok" }])
    const ready = await call(`${server.url}/health/ready`)
    expect([ready.status, ready.json]).toEqual([200, { status: "ready" }])
  })

  it("turn unready while the database does not answer, and ready again after", async () => {
    const { captured, layer } = capturingDatabase()
    const server = await startServer({}, layer)
    try {
      const sql = captured.sql!
      expect((await call(`${server.url}/health/ready`)).status).toBe(200)
      // a transaction that never ends holds the router's only database connection
      const stuck = Effect.runFork(sql.withTransaction(Effect.never))
      const ready = await call(`${server.url}/health/ready`)
      expect(ready.status).toBe(503)
      expect(ready.json).toEqual({ status: "unready", reasons: ["storage: the database did not answer SELECT 1 within 1000 ms"] })
      expect((await call(`${server.url}/health/live`)).status, "the process is still up").toBe(200)
      await Effect.runPromise(Fiber.interrupt(stuck))
      expect((await call(`${server.url}/health/ready`)).status).toBe(200)
    } finally {
      await server.close()
    }
  })

  it("turn unready when the configuration no longer holds (its working folder is gone)", async () => {
    const workingDir = tempDir("mcp-health-")
    const server = await start({ tools: { workingDir } }, false)
    fs.rmSync(workingDir, { recursive: true, force: true })
    const ready = await call(`${server.url}/health/ready`)
    expect(ready.status).toBe(503)
    expect(ready.json.status).toBe("unready")
    expect(ready.json.reasons).toEqual(["configuration: tools.workingDir: expected an existing folder"])
    expect(JSON.stringify(ready.json)).not.toContain(workingDir)
    expect((await call(`${server.url}/health/live`)).status).toBe(200)
  })
})

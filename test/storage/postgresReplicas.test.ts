/**
 * Two router processes on one PostgreSQL database (storage.url), as two replicas: a key created on A
 * works on B, a key revoked on A is refused on B (its open WebSocket closed) within about a second,
 * the audit entries both write at the same time form one chain that `mcp-router audit verify` accepts,
 * and a configuration change and a rollback made on A apply on B.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import WebSocket from "ws"
import {
  ADMIN_KEY,
  call,
  createDatabase,
  eventually,
  makeTempDir,
  postConfig,
  postgresUrl,
  removeDir,
  type RouterProcess,
  runCli,
  skipMessage,
  startRouter,
  toolCall
} from "./support.ts"

/** The brief: revocation reaches every replica within a second; slack for a loaded test machine. */
const REVOKED_WITHIN_MS = 1_000 + 500

describe.skipIf(postgresUrl === undefined)(`two routers on one PostgreSQL database ${postgresUrl === undefined ? `(${skipMessage})` : ""}`, () => {
  let database: Awaited<ReturnType<typeof createDatabase>>
  let workingDir: string
  let a: RouterProcess
  let b: RouterProcess

  beforeAll(async () => {
    database = await createDatabase("router_replicas")
    // the replicas share their configuration: the same working folder, as on one image
    workingDir = makeTempDir("mcp-router-pg-work-")
    a = await startRouter(database.url, workingDir)
    b = await startRouter(database.url, workingDir)
  })
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await database?.drop()
    if (workingDir !== undefined) removeDir(workingDir)
  })

  const createKey = async (router: RouterProcess, permissions: ReadonlyArray<string>) => {
    const reply = await postConfig(router, { "security.createApiKey": { name: "replica test", permissions } })
    expect(reply.status, reply.text).toBe(201)
    return reply.json as { readonly key: string; readonly id: string }
  }

  it("a key created on A is accepted on B", async () => {
    const { key } = await createKey(a, ["read"])
    const onB = await call(`${b.url}/api/security/stats`, { key })
    expect(onB.status, onB.text).toBe(200)
    const listed = await postConfig(b, { "security.listApiKeys": {} })
    expect(listed.json.keys.map((k: { readonly name: string }) => k.name)).toContain("replica test")
  })

  it("a key revoked on A is refused on B within about a second, and its WebSocket on B is closed", async () => {
    const { key, id } = await createKey(a, ["read"])
    expect((await call(`${b.url}/api/security/stats`, { key })).status).toBe(200)
    const socket = new WebSocket(`${b.url.replace("http", "ws")}/ws`, { headers: { authorization: `Bearer ${key}` } })
    const closed = new Promise<{ readonly code: number; readonly at: number }>((resolve) =>
      socket.on("close", (code) => resolve({ code, at: Date.now() }))
    )
    await new Promise<void>((resolve, reject) => {
      socket.on("message", (data) => {
        if (JSON.parse(String(data)).type === "welcome") resolve()
      })
      socket.on("error", reject)
    })

    const revokedAt = Date.now()
    const revoked = await postConfig(a, { "security.revokeApiKey": { id } })
    expect(revoked.status, revoked.text).toBe(200)
    const refusedAfter = await eventually(async () => (await call(`${b.url}/api/security/stats`, { key })).status === 401, 5_000, 25)
    expect(refusedAfter).toBeLessThanOrEqual(REVOKED_WITHIN_MS)
    const close = await closed
    expect(close.code).toBe(4401)
    expect(close.at - revokedAt).toBeLessThanOrEqual(REVOKED_WITHIN_MS)
  })

  it("audit entries written by both at the same time form one chain that `audit verify` accepts", async () => {
    const before = Number((await database.query("SELECT count(*)::int AS n FROM audit_log"))[0]!["n"])
    const perRouter = 150
    // every call's entry is committed before its answer: both routers' writers are busy at once
    const calls = [a, b].flatMap((router, r) =>
      Array.from({ length: perRouter }, (_, i) => () => toolCall(router, ADMIN_KEY, "list_directory", { path: "." }, r * 1000 + i))
    )
    const running = new Set<Promise<unknown>>()
    const replies: Array<Awaited<ReturnType<typeof toolCall>>> = []
    for (const next of calls.sort(() => Math.random() - 0.5)) {
      if (running.size >= 24) await Promise.race(running)
      const call = next().then((reply) => void replies.push(reply))
      running.add(call)
      void call.finally(() => running.delete(call))
    }
    await Promise.all(running)
    expect(replies.filter((reply) => reply.status !== 200 || reply.json.error !== undefined).map((reply) => reply.text)).toEqual([])

    const rows = await database.query("SELECT id, seq, actor, target FROM audit_log ORDER BY id")
    expect(rows.length - before).toBeGreaterThanOrEqual(2 * perRouter)
    // one sequence, no gap, whichever router wrote an entry
    expect(rows.map((row) => Number(row["seq"]))).toEqual(rows.map((_, i) => i + 1))

    const verified = await runCli(database.url, ["audit", "verify"])
    expect(verified.stderr).toBe("")
    expect(verified.code).toBe(0)
    expect(verified.stdout).toContain(`Audit trail verified: ${rows.length} entries, chain intact`)
  })

  it("a configuration change on A applies on B, and so does a rollback on A", async () => {
    const levelOn = async (router: RouterProcess) => (await call(`${router.url}/config`, { key: ADMIN_KEY })).json.config.logging.level as string
    expect(await levelOn(b)).toBe("info")
    const before = (await postConfig(a, { "config.versions": {} })).json.versions[0].version as number

    const changed = await postConfig(a, { "logging.level": "debug", "security.blockedIps": ["203.0.113.0/24"] })
    expect(changed.status, changed.text).toBe(200)
    await eventually(async () => (await levelOn(b)) === "debug")
    const onB = (await call(`${b.url}/config`, { key: ADMIN_KEY })).json.config
    expect(onB.security.blockedIps).toEqual(["203.0.113.0/24"])
    // B keeps its own address and storage: they are not part of what replicas share
    expect(onB.storage.url).toContain(":[REDACTED]@")
    expect(onB.security.adminKey).toBe("[REDACTED]")

    const rolledBack = await postConfig(a, { "config.rollback": { version: before } })
    expect(rolledBack.status, rolledBack.text).toBe(200)
    await eventually(async () => (await levelOn(b)) === "info")
    expect((await call(`${b.url}/config`, { key: ADMIN_KEY })).json.config.security.blockedIps).toEqual([])
    // B's own admin key still works after applying a version stored without it
    expect((await postConfig(b, { "security.listApiKeys": {} })).status).toBe(200)

    // and the other way round: a change on B applies on A
    expect((await postConfig(b, { "logging.level": "warn" })).status).toBe(200)
    await eventually(async () => (await levelOn(a)) === "warn")
    expect((await postConfig(a, { "logging.level": "info" })).status).toBe(200)
    await eventually(async () => (await levelOn(b)) === "info")
  })

  it("the configuration history keeps neither storage.url (its password) nor the admin key", async () => {
    const stored = (await database.query("SELECT config FROM config_versions")).map((row) => String(row["config"])).join("\n")
    const password = new URL(database.url).password
    expect(stored).not.toContain(`:${password}@`)
    expect(stored).not.toContain(database.name)
    expect(stored).not.toContain(ADMIN_KEY)
  })

  it("a router restarted with the same configuration keeps the changes made at runtime", async () => {
    const timeoutOn = async (router: RouterProcess) => (await call(`${router.url}/config`, { key: ADMIN_KEY })).json.config.tools.timeout as number
    expect((await postConfig(a, { "tools.timeout": 12_345 })).status).toBe(200)
    await eventually(async () => (await timeoutOn(b)) === 12_345)
    await b.stop()
    b = await startRouter(database.url, workingDir)
    expect(await timeoutOn(b)).toBe(12_345)
    // and it follows the changes made after its start
    expect((await postConfig(a, { "tools.timeout": 23_456 })).status).toBe(200)
    await eventually(async () => (await timeoutOn(b)) === 23_456)
  })
})

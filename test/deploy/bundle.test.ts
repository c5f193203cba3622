/**
 * The command's bundle (dist/bin/, made by `npm run build`) as a user runs it: `node bin/mcp-router.js serve`
 * as a process of its own, from an empty temporary folder, on a config file, with the parts the bundle
 * loads lazily or starts beside itself each used through real requests:
 * - read_file, and search_files (a worker thread of dist/bin/searchWorker.js);
 * - sql_query on a SQLite file (a child process of dist/bin/sqliteWorker.js);
 * - git_status on a real repository made with the git command line (isomorphic-git's chunk);
 * - a stdio upstream (the official server-everything) listed and called through the official SDK client
 *   over /mcp (the MCP SDK client's chunk);
 * - with MCP_TEST_POSTGRES_URL and MCP_TEST_REDIS_URL: a router on storage.url and redis.url (the chunks
 *   of @effect/sql-pg and the Redis client) whose admin API creates a key that then calls tools, sql_query
 *   on PostgreSQL among them, counted in Redis.
 * Each router exits 0 on SIGTERM with nothing uncaught on its stderr.
 *
 * The test does not build: CI runs `npm run build` before test/deploy. A dist/bin/mcp-router.js that is
 * missing or older than a file of src/ (the launcher would then run src/main.ts) fails it, saying to build.
 * The routers run the package's files (package.json `files`: bin/mcp-router.js, dist/, config/) copied
 * to a folder of this test, beside the checkout's node_modules, as an install lays them out: test/deploy's
 * package test runs `npm pack`, whose build empties dist/ meanwhile. A build running in this checkout
 * when the test starts is waited for.
 * Under CI the PostgreSQL and Redis part runs; elsewhere it is skipped without those servers.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createDatabase, postgresUrl } from "../storage/support.ts"
import { inCi, redisKeys, testDatabase, testRedisUrl } from "../shared/support.ts"
import { call } from "../support/http.ts"
import { commitAll, git, repoWith, write } from "../tools/git/gitRepo.ts"
import { makeSqliteFolder, people } from "../tools/sql/support.ts"
import { cleanupAfterEach, everythingServer, mcpClient, processesWith, type RunningServer, waitFor, whenUp } from "../upstreams/support.ts"
import { freePort, makeTempDir, nodeBin, root, userEnv, waitForStatus } from "./support.ts"

cleanupAfterEach()

/** The project's Node 24, which runs the launcher as a user's `node` would. */
const routerNode = path.join(root, "node_modules/.bin/node")
const bundleEntry = path.join(root, "dist/bin/mcp-router.js")
const manifest = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8")) as { readonly files: ReadonlyArray<string> }
const ADMIN_KEY = "bundle-test-admin-key-0123456789abcdef"
const WAIT_MS = 20_000

/**
 * Why the bundle cannot be tested, or undefined: missing, or older than a file of src/ (the launcher
 * compares the same way and would run src/main.ts instead).
 */
const bundleProblem = (): string | undefined => {
  if (!fs.existsSync(bundleEntry)) return `${path.relative(root, bundleEntry)} is missing: run \`npm run build\` before this test`
  const built = fs.statSync(bundleEntry).mtimeMs
  const newer = (fs.readdirSync(path.join(root, "src"), { recursive: true, withFileTypes: true }) as Array<fs.Dirent>)
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name))
    .filter((file) => fs.statSync(file).mtimeMs > built)
  return newer.length === 0
    ? undefined
    : `${path.relative(root, bundleEntry)} is older than ${newer.map((file) => path.relative(root, file)).slice(0, 5).join(", ")}` +
      `${newer.length > 5 ? ` and ${newer.length - 5} more` : ""} (bin/mcp-router.js would run src/main.ts): run \`npm run build\` before this test`
}

/**
 * The build scripts running in this checkout now (`npm run build`, alone or as `npm pack`'s prepack): the
 * shell npm runs the script in carries all of it on its command line, from emptying dist/ to the bundle.
 */
const buildsRunning = () =>
  processesWith("rolldown -c rolldown.config.ts").filter((pid) => {
    try {
      return fs.realpathSync(`/proc/${pid}/cwd`) === fs.realpathSync(root)
    } catch {
      return false
    }
  })

/** The package's files (bin/mcp-router.js, dist/, config/ and package.json) copied to `dir`, beside the checkout's node_modules. */
const copyPackage = (dir: string) => {
  for (const entry of ["package.json", ...manifest.files]) {
    fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true, errorOnExist: true, force: false })
  }
  fs.symlinkSync(path.join(root, "node_modules"), path.join(dir, "node_modules"))
}

/** Once no build runs in the checkout: a copy of the package made from a current bundle, or why there is none. */
const preparePackage = async (): Promise<{ readonly dir: string } | { readonly problem: string }> => {
  const deadline = Date.now() + 240_000
  for (;;) {
    while (buildsRunning().length > 0) {
      if (Date.now() > deadline) return { problem: `a build in ${root} did not end within 240 s` }
      await new Promise((resolve) => setTimeout(resolve, 500))
    }
    const problem = bundleProblem()
    if (problem !== undefined) return { problem }
    const dir = makeTempDir("mcp-bundle-package-")
    try {
      copyPackage(dir)
      // a build that started meanwhile may have emptied dist/ under the copy: copy again after it
      if (buildsRunning().length === 0 && fs.existsSync(path.join(dir, "dist/bin/mcp-router.js"))) return { dir }
    } catch (error) {
      if (buildsRunning().length === 0) throw error
    }
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

let installed: { readonly dir: string } | { readonly problem: string } | undefined
/** The package's folder, or the reason the bundle cannot be tested as an error. */
const packageDir = () => {
  if (installed === undefined) throw new Error("the package was not prepared")
  if ("problem" in installed) throw new Error(installed.problem)
  return installed.dir
}

beforeAll(async () => {
  installed = await preparePackage()
}, 300_000)

/** The lines of stderr that tell of a failure: an uncaught exception, a rejection, a module that did not load. */
const failuresIn = (stderr: string) =>
  stderr.split("\n").filter((line) => /uncaught|unhandled|error|exception|cannot find|is not defined|is not a function|dynamic require|failed/iu.test(line))

/** The log lines (JSON on stdout) at level error or fatal. */
const errorLogs = (stdout: string) =>
  stdout.split("\n").filter((line) => {
    try {
      return ["error", "fatal"].includes(JSON.parse(line).level)
    } catch {
      return false
    }
  })

interface BundledRouter {
  readonly url: string
  readonly child: ChildProcessWithoutNullStreams
  readonly stdout: () => string
  readonly stderr: () => string
  /** SIGTERM, then its exit (SIGKILL after 15 s). */
  readonly stop: () => Promise<{ readonly code: number | null; readonly signal: NodeJS.Signals | null }>
  /** The temporary folder of its config file, launch folder, data and logs. */
  readonly dir: string
}

const started: Array<BundledRouter> = []
afterAll(() => {
  for (const router of started) {
    if (router.child.exitCode === null && router.child.signalCode === null) router.child.kill("SIGKILL")
    fs.rmSync(router.dir, { recursive: true, force: true })
  }
  if (installed !== undefined && "dir" in installed) fs.rmSync(installed.dir, { recursive: true, force: true })
})

/**
 * `node bin/mcp-router.js serve --config <file>` launched from an empty temporary folder, on a free port,
 * with the admin key in MCP_ADMIN_KEY and the environment of a user's shell; resolves once /health/ready answers 200.
 */
const startBundled = async (name: string, config: Record<string, any>): Promise<BundledRouter> => {
  const dir = makeTempDir(`mcp-bundle-${name}-`)
  const launch = path.join(dir, "launch")
  fs.mkdirSync(launch)
  const port = await freePort()
  const file = path.join(dir, "config.json")
  fs.writeFileSync(file, JSON.stringify({
    ...config,
    server: { host: "127.0.0.1", port },
    security: { requireApiKey: true, maxRequestsPerMinute: 100_000, maxRequestsPerHour: 1_000_000, ...config.security },
    storage: { dataDir: path.join(dir, "data"), ...config.storage },
    logging: { logDir: path.join(dir, "logs"), ...config.logging }
  }, null, 2))
  const child = spawn(routerNode, [path.join(packageDir(), "bin/mcp-router.js"), "serve", "--config", file], {
    cwd: launch,
    env: userEnv({ MCP_ADMIN_KEY: ADMIN_KEY, MCP_LOG_CONSOLE: "true" }),
    stdio: ["pipe", "pipe", "pipe"]
  })
  let stdout = ""
  let stderr = ""
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal }))
  )
  const router: BundledRouter = {
    url: `http://127.0.0.1:${port}`,
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    dir,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM")
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000)
      try {
        return await exited
      } finally {
        clearTimeout(timer)
      }
    }
  }
  started.push(router)
  await waitForStatus(`${router.url}/health/ready`, 200, 45_000, child).catch((error) => {
    throw new Error(`${String(error)}\nstdout:\n${stdout.slice(-4000)}\nstderr:\n${stderr.slice(-4000)}`)
  })
  await waitFor("the line saying where it listens", () => stdout.includes(`listening on ${router.url}`))
  return router
}

/** The helpers of the upstream tests take a server; they use its URL only. */
const asServer = (router: { readonly url: string }): RunningServer => ({ url: router.url, workingDir: "", close: async () => {} })

/** security.createApiKey over POST /config with the admin key (MCP_ADMIN_KEY). */
const createKey = async (router: BundledRouter, name: string, permissions: ReadonlyArray<string>, extra: Record<string, unknown> = {}) => {
  const reply = await call(`${router.url}/config`, { key: ADMIN_KEY, body: { "security.createApiKey": { name, permissions, ...extra } } })
  expect(reply.status, reply.text).toBe(201)
  expect(reply.json.key).toEqual(expect.any(String))
  return reply.json as { readonly key: string; readonly id: string }
}

/** A tools/call at /api/mcp/jsonrpc; the result, failing on a JSON-RPC error. */
const toolCall = async (router: BundledRouter, key: string, name: string, args: Record<string, unknown>) => {
  const reply = await call(`${router.url}/api/mcp/jsonrpc`, {
    key,
    body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name, arguments: args } },
    timeoutMs: WAIT_MS
  })
  expect(reply.status, reply.text).toBe(200)
  expect(reply.json.error, reply.text).toBeUndefined()
  return reply.json.result as { content: Array<{ type: string; text: string }>; structuredContent?: any; isError?: boolean }
}

const textOf = (result: { content: Array<{ text?: string }> }) => result.content.map((block) => block.text ?? "").join("\n")

/** The bundle's SQLite worker, in the package's folder. */
const sqliteWorker = () => path.join(packageDir(), "dist/bin/sqliteWorker.js")

/** The pids of the processes running the bundle's dist/bin/sqliteWorker.js whose parent is `pid`. */
const sqliteWorkersOf = (pid: number) =>
  processesWith(sqliteWorker()).filter((worker) => {
    try {
      return /^PPid:\s*(\d+)$/mu.exec(fs.readFileSync(`/proc/${worker}/status`, "utf8"))?.[1] === String(pid)
    } catch {
      return false
    }
  })

/** Asserts a stopped router exited 0 after SIGTERM and said nothing of a failure. */
const expectCleanExit = (router: BundledRouter, exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null }) => {
  const output = `stdout:\n${router.stdout().slice(-4000)}\nstderr:\n${router.stderr().slice(-4000)}`
  expect(exit, output).toEqual({ code: 0, signal: null })
  expect(failuresIn(router.stderr()), output).toEqual([])
  expect(errorLogs(router.stdout()), output).toEqual([])
}

it("dist/bin/mcp-router.js is built and newer than every file of src/ (run `npm run build` otherwise)", () => {
  expect(installed !== undefined && "problem" in installed ? installed.problem : undefined).toBeUndefined()
  expect(fs.readdirSync(path.join(packageDir(), "dist/bin"))).toEqual(expect.arrayContaining(["mcp-router.js", "searchWorker.js", "sqliteWorker.js"]))
})

describe("the bundle's install folder", () => {
  // the sandbox finds the install folder from the running module's place: dist/bin/ in the bundle
  it("is refused by the file tools when the working folder holds it, through a link too; a file beside it is read", async () => {
    const pkg = packageDir()
    const beside = makeTempDir("mcp-bundle-beside-")
    fs.writeFileSync(path.join(beside, "free.txt"), "free to read\n")
    fs.symlinkSync(pkg, path.join(beside, "package-link"))
    const router = await startBundled("install", { tools: { workingDir: path.dirname(pkg) } })
    try {
      const { key } = await createKey(router, "bundle-install", ["read", "execute"])
      for (const file of [
        path.join(path.basename(pkg), "package.json"),
        path.join(path.basename(pkg), "dist/bin/mcp-router.js"),
        path.join(path.basename(beside), "package-link", "bin/mcp-router.js")
      ]) {
        const refused = await toolCall(router, key, "read_file", { path: file })
        expect(refused.isError, `${file}: ${textOf(refused)}`).toBe(true)
        expect(textOf(refused)).toContain("install folder")
      }
      const listed = await toolCall(router, key, "search_files", { path: path.basename(pkg), pattern: "*.js" })
      expect(listed.isError, textOf(listed)).toBe(true)
      const free = await toolCall(router, key, "read_file", { path: path.join(path.basename(beside), "free.txt") })
      expect(textOf(free)).toBe("free to read\n")
    } finally {
      expectCleanExit(router, await router.stop())
      fs.rmSync(beside, { recursive: true, force: true })
    }
  })
})

describe("the bundle, run by bin/mcp-router.js serve", () => {
  /** The working folder (tools.workingDir), holding app.db with `people`. */
  let folder: ReturnType<typeof makeSqliteFolder>
  /** A folder passed to the upstream as an argument nobody reads: it finds that process. */
  let marker: string
  let router: BundledRouter
  const token = `needle-${process.pid}-${Date.now().toString(36)}`
  /** The text files of the working folder. */
  const files: Record<string, string> = {
    "notes/alpha.txt": `first line\nthe ${token} is here\nthird line\n`,
    "notes/beta.md": `# ${token.toUpperCase()}\n\nnothing else\n`,
    "notes/gamma.txt": "no token in this one\n"
  }
  let sqliteWorkerPid: number | undefined

  beforeAll(async () => {
    packageDir()
    folder = makeSqliteFolder()
    marker = makeTempDir("mcp-bundle-upstream-")
    write(folder.root, files)
    router = await startBundled("a", {
      tools: { workingDir: folder.root, databases: [{ name: "app", url: "sqlite:app.db" }] },
      upstreams: [{ name: "everything", prefix: "everything", transport: { type: "stdio", command: nodeBin, args: [everythingServer, "stdio", marker] } }]
    })
    await whenUp(asServer(router), "everything", ADMIN_KEY)
  }, 90_000)

  afterAll(async () => {
    if (router !== undefined && router.child.exitCode === null) await router.stop()
    for (const pid of marker === undefined ? [] : processesWith(marker)) process.kill(pid, "SIGKILL")
    if (marker !== undefined) fs.rmSync(marker, { recursive: true, force: true })
    folder?.cleanup()
  })

  it("reads a file, and searches names and contents in a worker thread (dist/bin/searchWorker.js)", async () => {
    const read = await toolCall(router, ADMIN_KEY, "read_file", { path: "notes/alpha.txt" })
    expect(read.isError, textOf(read)).toBeFalsy()
    expect(textOf(read)).toContain(files["notes/alpha.txt"])

    // the lines holding the token, any case, as the fixture files have them
    const expected = Object.entries(files).flatMap(([file, content]) =>
      content.split("\n").flatMap((line, i) => (line.toLowerCase().includes(token) ? [{ path: file, line: i + 1, text: line }] : []))
    )
    expect(expected).toHaveLength(2)
    const found = await toolCall(router, ADMIN_KEY, "search_files", { contentRegex: token })
    expect(found.isError, textOf(found)).toBeFalsy()
    expect([...found.structuredContent.matches].sort((a: any, b: any) => a.path.localeCompare(b.path))).toEqual(expected)
    expect(found.structuredContent).toMatchObject({ path: ".", count: expected.length, truncated: false })
    for (const match of expected) expect(textOf(found)).toContain(`${match.path}:${match.line}: ${match.text}`)

    const byName = await toolCall(router, ADMIN_KEY, "search_files", { pattern: "*.md" })
    expect(byName.structuredContent.matches).toEqual(Object.keys(files).filter((file) => file.endsWith(".md")).map((file) => ({ path: file })))
  })

  it("runs sql_query on SQLite in a child process of dist/bin/sqliteWorker.js", async () => {
    const minimum = 40
    const result = await toolCall(router, ADMIN_KEY, "sql_query", {
      database: "app",
      query: "SELECT name, age FROM people WHERE age > ? ORDER BY age",
      params: [minimum]
    })
    expect(result.isError, textOf(result)).toBeFalsy()
    const rows = people.filter(([, , age]) => age > minimum).sort((a, b) => a[2] - b[2]).map(([, name, age]) => [name, age])
    expect(result.structuredContent).toMatchObject({ database: "app", columns: ["name", "age"], rows, rowCount: rows.length, truncated: false })
    expect(JSON.parse(textOf(result))).toEqual(result.structuredContent)
    // the router forked the bundle's worker, not a source file
    const workers = sqliteWorkersOf(router.child.pid!)
    expect(workers, `children of the router running ${sqliteWorker()}`).toHaveLength(1)
    sqliteWorkerPid = workers[0]
  })

  it("reports git_status of a real repository (a commit, a staged, a modified and an untracked file)", async () => {
    const repo = path.join(folder.root, "repo")
    const commit = repoWith(repo, { "tracked.txt": "one\n", "kept.txt": "unchanged\n" })
    write(repo, { "staged.txt": "staged\n" })
    git(repo, "add", "staged.txt")
    write(repo, { "tracked.txt": "one, then two\n", "fresh.txt": "untracked\n" })
    const branch = git(repo, "branch", "--show-current").trim()

    const result = await toolCall(router, ADMIN_KEY, "git_status", { path: "repo" })
    expect(result.isError, textOf(result)).toBeFalsy()
    expect(result.structuredContent).toEqual({
      path: "repo",
      branch,
      detached: false,
      commit,
      upstream: null,
      ahead: 0,
      behind: 0,
      staged: [{ path: "staged.txt", change: "added" }],
      unstaged: [{ path: "tracked.txt", change: "modified" }],
      untracked: ["fresh.txt"],
      conflicted: []
    })
    expect(JSON.parse(textOf(result))).toEqual(result.structuredContent)

    // committed, the repository is clean at the new commit
    const next = commitAll(repo, "second")
    const clean = await toolCall(router, ADMIN_KEY, "git_status", { path: "repo" })
    expect(clean.structuredContent).toMatchObject({ commit: next, staged: [], unstaged: [], untracked: [] })
  })

  it("lists and calls a stdio upstream's tools through the official SDK client with a key made by the admin API", async () => {
    const { key } = await createKey(router, "bundle-sdk", ["read", "execute"])
    const client = await mcpClient(asServer(router), key)
    const names = (await client.listTools(undefined, { timeout: WAIT_MS })).tools.map((tool) => tool.name)
    expect(names).toEqual(expect.arrayContaining(["everything__echo", "everything__get-sum", "read_file", "search_files", "sql_query", "git_status"]))

    const message = `through the bundle ${token}`
    const echoed = await client.callTool({ name: "everything__echo", arguments: { message } }, undefined, { timeout: WAIT_MS })
    expect(echoed.isError ?? false).toBe(false)
    expect(echoed.content).toEqual([{ type: "text", text: `Echo: ${message}` }])
    const [a, b] = [17 + (process.pid % 100), 25]
    const sum = await client.callTool({ name: "everything__get-sum", arguments: { a, b } }, undefined, { timeout: WAIT_MS })
    expect(JSON.stringify(sum.content)).toContain(String(a + b))
    // the router's own tools answer the same client
    const read = await client.callTool({ name: "read_file", arguments: { path: "notes/gamma.txt" } }, undefined, { timeout: WAIT_MS })
    expect(JSON.stringify(read.content)).toContain("no token in this one")
  })

  it("exits 0 on SIGTERM with nothing uncaught on stderr, and ends its upstream and SQLite worker", async () => {
    expect(processesWith(marker), "the upstream runs before the stop").toHaveLength(1)
    const exit = await router.stop()
    expectCleanExit(router, exit)
    expect(processesWith(marker), "the upstream process is gone").toEqual([])
    if (sqliteWorkerPid !== undefined) expect(processesWith(sqliteWorker())).not.toContain(sqliteWorkerPid)
  }, 30_000)
})

/** The PostgreSQL and Redis servers of the tests (.ci/postgres.sh, .ci/redis.sh). */
const serversAvailable = postgresUrl !== undefined && testRedisUrl !== undefined
const skipReason = `the bundle's PostgreSQL and Redis part needs MCP_TEST_POSTGRES_URL and MCP_TEST_REDIS_URL: ` +
  `export MCP_TEST_POSTGRES_URL="$(bash .ci/postgres.sh)" MCP_TEST_REDIS_URL="$(bash .ci/redis.sh)"`

if (!serversAvailable && !inCi) console.warn(`\n*** SKIPPED: ${skipReason} ***\n`)

describe.skipIf(!serversAvailable && !inCi)("the bundle on PostgreSQL (storage.url) and Redis (redis.url)", () => {
  const LIMIT = 5
  let database: Awaited<ReturnType<typeof createDatabase>>
  let redisUrl: string
  let workingDir: string
  let router: BundledRouter

  beforeAll(async () => {
    packageDir()
    // a database of this file's own on the test server, and a Redis database no other test uses
    database = await createDatabase("mcp_router_bundle")
    await database.query("CREATE TABLE planets (name TEXT PRIMARY KEY, moons INTEGER NOT NULL)")
    await database.query("INSERT INTO planets VALUES ('Mercury', 0), ('Earth', 1), ('Mars', 2), ('Jupiter', 95)")
    redisUrl = await testDatabase(14)
    workingDir = makeTempDir("mcp-bundle-pg-work-")
    write(workingDir, { "hello.txt": `hello from ${process.pid}\n` })
    router = await startBundled("pg", {
      storage: { url: database.url },
      redis: { url: redisUrl },
      tools: { workingDir, databases: [{ name: "pg", url: database.url }] }
    })
  }, 90_000)

  afterAll(async () => {
    // the router goes before its database
    if (router !== undefined && router.child.exitCode === null) await router.stop()
    await database?.drop()
    if (workingDir !== undefined) fs.rmSync(workingDir, { recursive: true, force: true })
  }, 30_000)

  it("is ready with Redis connected, and a key created through the admin API (stored in PostgreSQL) calls tools", async () => {
    const ready = await call(`${router.url}/health/ready`)
    expect(ready.json, ready.text).toEqual({ status: "ready", shared: { redis: "connected" } })

    // a limit of its own: each call holds its count in Redis for a minute / LIMIT (the window's share of one call)
    const { key, id } = await createKey(router, "bundle-pg", ["execute"], { ratePerMinute: LIMIT })
    expect(await database.query("SELECT name, revoked_at FROM api_keys WHERE id = $1", [id])).toEqual([{ name: "bundle-pg", revoked_at: null }])

    const read = await toolCall(router, key, "read_file", { path: "hello.txt" })
    expect(read.isError, textOf(read)).toBeFalsy()
    expect(textOf(read)).toContain(`hello from ${process.pid}`)

    const query = "SELECT name, moons FROM planets WHERE moons > $1 ORDER BY moons"
    const queried = await toolCall(router, key, "sql_query", { database: "pg", query, params: [0] })
    expect(queried.isError, textOf(queried)).toBeFalsy()
    // the same query made straight on the database, outside the router
    const rows = ((await database.query(query, [0])) as Array<{ name: string; moons: number }>).map((row) => [row.name, row.moons])
    expect(rows.length).toBeGreaterThan(0)
    expect(queried.structuredContent).toMatchObject({ database: "pg", columns: ["name", "moons"], rows, rowCount: rows.length, truncated: false })

    // a key without admin is refused the admin API
    expect((await call(`${router.url}/config`, { key, body: { "security.createApiKey": { name: "no", permissions: ["read"] } } })).status).toBe(403)
    // the key's calls are counted in Redis: the next ones up to its limit pass, then one is refused
    expect(await redisKeys(redisUrl, `mcp-router:ratelimit:minute:${id}`)).toEqual([`mcp-router:ratelimit:minute:${id}`])
    const made = 2
    for (let i = made; i < LIMIT; i++) expect((await toolCall(router, key, "read_file", { path: "hello.txt" })).isError).toBeFalsy()
    const refused = await call(`${router.url}/api/mcp/jsonrpc`, {
      key,
      body: { jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "read_file", arguments: { path: "hello.txt" } } }
    })
    expect(refused.status, refused.text).toBe(429)
    expect(refused.json.error).toMatchObject({ code: -32029, data: { limit: LIMIT, window: "minute" } })
  })

  it("exits 0 on SIGTERM with nothing uncaught on stderr", async () => {
    const exit = await router.stop()
    expectCleanExit(router, exit)
  }, 30_000)
})

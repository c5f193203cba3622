/**
 * search_files' worker pool: warm workers reused one search at a time, as many as the bound; an interrupted
 * search's worker terminated for sure and replaced; every worker ended when the pool's scope (the server)
 * closes. Worker threads are counted in /proc/self/task (Node names them "WorkerThread").
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Exit, Fiber, Scope } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import * as fd_ from "../../src/tools/files/fd.ts"
import { makeSearchPool } from "../../src/tools/files/searchPool.ts"
import type { SearchReply, SearchRequest } from "../../src/tools/files/searchWorker.ts"
import { startServer } from "../support/server.ts"
import { callTool, type Fixture, makeFixture, put, runWith, structured } from "./fixtures.ts"

/** Worker threads alive in this process now. */
const workerThreads = () =>
  fs.readdirSync("/proc/self/task").filter((task) => {
    try {
      return fs.readFileSync(`/proc/self/task/${task}/comm`, "utf8").trim() === "WorkerThread"
    } catch {
      return false // ended meanwhile
    }
  }).length

/** Waits until the worker threads are `expected` (a terminated thread leaves /proc a moment later). */
const settledAt = (expected: number) =>
  Effect.promise(async () => {
    for (let i = 0; i < 100 && workerThreads() !== expected; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    return workerThreads()
  })

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
  put(fx.root, "a/one.txt", "alpha\n")
  put(fx.root, "b/two.txt", "beta\n")
  put(fx.root, "evil.txt", `${"a".repeat(40)}\n`)
})
afterEach(() => fx.cleanup())

/** A search of `folder` (under the fixture's root) through a descriptor opened here, closed with the scope. */
const request = (folder: string, extra: Partial<SearchRequest> = {}) =>
  Effect.acquireRelease(
    Effect.sync(() => fs.openSync(path.join(fx.root, folder), fd_.O_PATH | fd_.O_DIRECTORY)),
    (fd) => Effect.sync(() => fd_.close(fd))
  ).pipe(Effect.map((fd): SearchRequest => ({
    root: fx.root,
    folder: path.join(fx.root, folder),
    folderFd: fd,
    pattern: "*",
    includeHidden: false,
    maxReadBytes: 1_000_000,
    limit: 100,
    exclusions: { paths: [], identities: [] },
    ...extra
  })))

const pathsOf = (reply: SearchReply) => ("ok" in reply ? reply.ok.matches.map((m) => m.path) : [reply.error.message])

describe("search pool", () => {
  it.live("a warm worker searches one request after another, each through its own folder descriptor", () =>
    Effect.gen(function*() {
      const before = workerThreads()
      const pool = yield* makeSearchPool(() => 2)
      // lazily: no worker before the first search
      assert.deepStrictEqual(pool.size(), { busy: 0, idle: 0 })
      for (let i = 0; i < 5; i++) {
        assert.deepStrictEqual(pathsOf(yield* pool.run(yield* request("a"))), [path.join("a", "one.txt")])
        assert.deepStrictEqual(pathsOf(yield* pool.run(yield* request("b", { regex: { source: "beta", flags: "" } }))), [path.join("b", "two.txt")])
      }
      // ten searches, one worker
      assert.deepStrictEqual(pool.size(), { busy: 0, idle: 1 })
      assert.strictEqual(workerThreads(), before + 1)
    }).pipe(Effect.scoped))

  it.live("searches at once use as many workers; no more than the bound stay warm", () =>
    Effect.gen(function*() {
      const before = workerThreads()
      const pool = yield* makeSearchPool(() => 2)
      const replies = yield* Effect.forEach([1, 2, 3], () => Effect.flatMap(request("a"), pool.run), { concurrency: "unbounded" })
      for (const reply of replies) assert.deepStrictEqual(pathsOf(reply), [path.join("a", "one.txt")])
      assert.deepStrictEqual(pool.size(), { busy: 0, idle: 2 })
      assert.strictEqual(yield* settledAt(before + 2), before + 2)
    }).pipe(Effect.scoped))

  it.live("an interrupted search's worker is terminated (the interruption waits for it) and a fresh one takes its place", () =>
    Effect.gen(function*() {
      const before = workerThreads()
      const pool = yield* makeSearchPool(() => 1)
      // backtracks for far longer than the test
      const stuck = yield* request(".", { pattern: "evil.txt", regex: { source: "^(a+)+b$", flags: "" } })
      const fiber = yield* Effect.forkChild(pool.run(stuck))
      yield* Effect.sleep(Duration.millis(300))
      assert.deepStrictEqual(pool.size(), { busy: 1, idle: 0 })
      const started = Date.now()
      yield* Fiber.interrupt(fiber)
      assert.isBelow(Date.now() - started, 2_000)
      // the stuck worker is gone, its replacement is warm, and it searches
      assert.strictEqual(yield* settledAt(before + 1), before + 1)
      assert.deepStrictEqual(pool.size(), { busy: 0, idle: 1 })
      assert.deepStrictEqual(pathsOf(yield* pool.run(yield* request("a"))), [path.join("a", "one.txt")])
      assert.strictEqual(workerThreads(), before + 1)
    }).pipe(Effect.scoped))

  it.live("closing the scope ends every worker, idle or searching, and the search fails", () =>
    Effect.gen(function*() {
      const before = workerThreads()
      const scope = yield* Scope.make()
      const pool = yield* Scope.provide(makeSearchPool(() => 2), scope)
      yield* Effect.forEach([1, 2], () => Effect.flatMap(request("a"), pool.run), { concurrency: "unbounded" }).pipe(Effect.scoped)
      const stuck = yield* request(".", { pattern: "evil.txt", regex: { source: "^(a+)+b$", flags: "" } })
      const fiber = yield* Effect.forkChild(pool.run(stuck))
      yield* Effect.sleep(Duration.millis(200))
      assert.isAtLeast(workerThreads(), before + 2)
      yield* Scope.close(scope, Exit.void)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(yield* settledAt(before), before)
      // a closed pool refuses
      const refused = yield* Effect.flip(Effect.flatMap(request("a"), pool.run))
      assert.include(refused.message, "shutting down")
    }).pipe(Effect.scoped))
})

describe("search_files on the pool", () => {
  it.live("the tool's workers end with the layer", () =>
    Effect.gen(function*() {
      const before = workerThreads()
      yield* Effect.gen(function*() {
        for (let i = 0; i < 3; i++) {
          const output = yield* callTool("search_files", { contentRegex: "alpha" })
          assert.deepStrictEqual(structured(output)["count"], 1)
        }
        assert.strictEqual(workerThreads(), before + 1)
      }).pipe((effect) => runWith(fx.root, effect))
      assert.strictEqual(yield* settledAt(before), before)
    }))

  it.live("no stray threads after a server closes", () =>
    Effect.gen(function*() {
      const before = workerThreads()
      for (let round = 0; round < 3; round++) {
        const server = yield* Effect.promise(() => startServer({ tools: { workingDir: fx.root }, security: { adminKey: "test-admin-key-0123456789abcdef" } }))
        const reply = yield* Effect.promise(() =>
          fetch(`${server.url}/api/mcp/jsonrpc`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/call", params: { name: "search_files", arguments: { contentRegex: "beta" } } })
          }).then((r) => r.json() as Promise<any>)
        )
        assert.strictEqual(reply.result.structuredContent.count, 1)
        yield* Effect.promise(() => server.close())
      }
      assert.strictEqual(yield* settledAt(before), before)
    }))
})

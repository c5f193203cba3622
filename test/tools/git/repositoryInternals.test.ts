/**
 * write_file never writes a repository's internals, under any name, and cannot assemble a repository one
 * file at a time, in any order, nor with concurrent calls racing each other.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, beforeEach } from "vitest"
import { AppConfig } from "../../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../../src/main.ts"
import { isGitDirectory } from "../../../src/tools/git/repository.ts"
import { type SandboxHookPoint, SandboxHooks } from "../../../src/tools/Sandbox.ts"
import { callTool, type Fixture, makeFixture, put, runWith, textOf } from "../fixtures.ts"
import { git, repoWith } from "./gitRepo.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const writeFile = (file: string, content = "x", extra: Record<string, unknown> = {}) =>
  callTool("write_file", { path: file, content, createDirs: true, ...extra })

const refused = (file: string, reason: string) =>
  Effect.gen(function*() {
    const output = yield* writeFile(file, "[core]\n\tfsmonitor = touch /tmp/x\n")
    assert.isTrue(output.isError, `${file} was written`)
    assert.include(textOf(output), reason, file)
  })

/** A folder git would take as a repository with a configuration (what an attacker needs). */
const plantedRepository = async (folder: string) =>
  (await isGitDirectory(folder)) && fs.existsSync(path.join(folder, "config"))

describe("write_file and repository internals", () => {
  it.live("a bare repository under any name: every file in it is refused", () =>
    runWith(fx.root, Effect.gen(function*() {
      git(fx.root, "init", "-q", "--bare", "evil")
      git(fx.root, "init", "-q", "--bare", "deep/er/Other.Name")
      for (const file of ["evil/config", "evil/HEAD", "evil/hooks/post-update", "evil/hooks/new/x", "evil/objects/info/alternates", "evil/info/attributes", "evil/refs/heads/main", "evil/packed-refs", "evil/commondir", "evil/description", "evil/new-folder/x", "deep/er/Other.Name/config"]) {
        yield* refused(file, "a git directory")
      }
      assert.notInclude(fs.readFileSync(path.join(fx.root, "evil", "config"), "utf8"), "fsmonitor")
    })))

  it.live("a .git folder or file, in any case; a non-bare repository's files stay writable", () =>
    runWith(fx.root, Effect.gen(function*() {
      repoWith(path.join(fx.root, "repo"), { "a.txt": "a\n" })
      yield* refused("repo/.git/config", "inside a .git folder")
      yield* refused("repo/.GIT/hooks/pre-commit", "inside a .git folder")
      yield* refused("proj/.git", ".git")
      for (const file of ["repo/a.txt", "repo/.gitattributes", "repo/settings/config", "repo/refs/notes.md", "notes/HEAD"]) {
        const output = yield* writeFile(file)
        assert.isUndefined(output.isError, `${file}: ${textOf(output)}`)
      }
    })))

  it.live("a repository cannot be assembled one file at a time, in any order", () =>
    runWith(fx.root, Effect.gen(function*() {
      const parts = ["HEAD", "config", "objects/info/x", "refs/heads/main"]
      const orders: Array<Array<string>> = []
      const permute = (done: Array<string>, left: Array<string>) => {
        if (left.length === 0) orders.push(done)
        for (const [i, part] of left.entries()) permute([...done, part], [...left.slice(0, i), ...left.slice(i + 1)])
      }
      permute([], parts)
      assert.strictEqual(orders.length, 24)
      for (const [i, order] of orders.entries()) {
        for (const part of order) {
          const content = part === "HEAD" ? "ref: refs/heads/main\n" : part === "config" ? "[core]\n\tfsmonitor = touch /tmp/x\n" : "x"
          yield* writeFile(`f${i}/${part}`, content)
        }
        const planted = yield* Effect.promise(() => plantedRepository(path.join(fx.root, `f${i}`)))
        assert.isFalse(planted, `order ${order.join(", ")} assembled a repository`)
      }
    })), 60_000)

  it.live("nor by concurrent calls racing each other", () =>
    runWith(fx.root, Effect.gen(function*() {
      const parts: ReadonlyArray<readonly [string, string]> = [
        ["HEAD", "ref: refs/heads/main\n"], ["config", "[core]\n\tfsmonitor = touch /tmp/x\n"], ["objects/info/x", "x"], ["refs/heads/main", "x"]
      ]
      for (let round = 0; round < 40; round++) {
        yield* Effect.all(parts.map(([part, content]) => writeFile(`race${round}/${part}`, content)), { concurrency: "unbounded" })
        const planted = yield* Effect.promise(() => plantedRepository(path.join(fx.root, `race${round}`)))
        assert.isFalse(planted, `round ${round} assembled a repository`)
      }
    })), 60_000)

  it.live("ordinary files named like git's are refused only beside git's other names", () =>
    runWith(fx.root, Effect.gen(function*() {
      put(fx.root, "docs/README.md", "r")
      for (const file of ["docs/HEAD", "app/config", "tree/config.worktree"]) {
        const output = yield* writeFile(file)
        assert.isUndefined(output.isError, `${file}: ${textOf(output)}`)
      }
      // docs now holds HEAD: a config beside it would make a repository
      yield* refused("docs/config", "would make docs a git directory")
      yield* refused("docs/commondir", "would make docs a git directory")
      // app holds config: HEAD beside it would too
      yield* refused("app/HEAD", "would make app a git directory")
    })))
})

describe("write_file and repository internals: the folder checked is the folder written", () => {
  /** The router with SandboxHooks calling `at` between the steps of the Sandbox's work. */
  const withHooks = <A, E, R>(at: (point: SandboxHookPoint, detail: string) => void, effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(RouterCoreLayer.pipe(
      Layer.provideMerge(AppConfig.layerFromInput({ tools: { workingDir: fx.root }, logging: { enableConsole: false } })),
      Layer.provide(Layer.succeed(SandboxHooks, { at }))
    )))

  it.live("a folder moved into a repository's hooks and a link swapped in at its path, after the path was checked: refused, nothing written there", () =>
    Effect.gen(function*() {
      // evil is a bare repository whose hooks folder is missing; work/plugins an ordinary folder
      git(fx.root, "init", "-q", "--bare", "evil")
      const hooks = path.join(fx.root, "evil", "hooks")
      fs.rmSync(hooks, { recursive: true, force: true })
      put(fx.root, "work/plugins/readme.txt", "plugins")
      const plugins = path.join(fx.root, "work", "plugins")
      const script = "#!/bin/sh\ntouch /tmp/pwned\n"
      // once the folder is opened (its path was checked before), it becomes evil/hooks and a link to it takes its place
      let swapped = false
      const at = (point: SandboxHookPoint) => {
        if (point !== "opened" || swapped) return
        swapped = true
        fs.renameSync(plugins, hooks)
        fs.symlinkSync(hooks, plugins)
      }
      for (const mode of ["create", "overwrite", "append"] as const) {
        swapped = false
        if (fs.existsSync(hooks)) {
          fs.rmSync(plugins)
          fs.renameSync(hooks, plugins)
        }
        const output = yield* withHooks(at, callTool("write_file", { path: "work/plugins/post-update", content: script, mode }))
        assert.isTrue(swapped, mode)
        assert.isTrue(output.isError, `${mode}: ${textOf(output)}`)
        assert.include(textOf(output), "a git directory", mode)
        assert.isFalse(fs.existsSync(path.join(hooks, "post-update")), `${mode}: a hook was written`)
        assert.deepStrictEqual(fs.readdirSync(hooks), ["readme.txt"], mode)
      }
    }))

  it.live("an existing file whose folder is swapped the same way: left as it was", () =>
    Effect.gen(function*() {
      git(fx.root, "init", "-q", "--bare", "evil")
      const hooks = path.join(fx.root, "evil", "hooks")
      fs.rmSync(hooks, { recursive: true, force: true })
      put(fx.root, "work/plugins/post-update", "harmless")
      const plugins = path.join(fx.root, "work", "plugins")
      let swapped = false
      const output = yield* withHooks((point) => {
        if (point !== "opened" || swapped) return
        swapped = true
        fs.renameSync(plugins, hooks)
        fs.symlinkSync(hooks, plugins)
      }, callTool("write_file", { path: "work/plugins/post-update", content: "#!/bin/sh\ntouch /tmp/pwned\n" }))
      assert.isTrue(swapped)
      assert.isTrue(output.isError, textOf(output))
      assert.strictEqual(fs.readFileSync(path.join(hooks, "post-update"), "utf8"), "harmless")
    }))
})

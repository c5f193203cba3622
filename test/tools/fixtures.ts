/**
 * Shared fixtures of the tool tests: a fresh real working folder, a second folder outside it holding
 * a secret (the escape target), and the real RouterCoreLayer built on a configuration pointing at it.
 */
import { Effect, Layer } from "effect"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { AppConfig } from "../../src/config/AppConfig.ts"
import { RouterCoreLayer } from "../../src/main.ts"
import type { Caller } from "../../src/router/Caller.ts"
import { Router } from "../../src/router/Router.ts"
import type { ToolOutput } from "../../src/tools/ToolDefinition.ts"

export const secretText = "TOP SECRET: must never leave the outside folder"

export interface Fixture {
  /** The real path of the working folder (tools.workingDir). */
  readonly root: string
  /** The real path of a folder outside the working folder, holding secret.txt. */
  readonly outside: string
  /** The secret file's absolute path. */
  readonly secret: string
  readonly cleanup: () => void
}

const tempDir = (prefix: string) => fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), prefix)))

export const makeFixture = (): Fixture => {
  const root = tempDir("mcp-tools-root-")
  const outside = tempDir("mcp-tools-outside-")
  const secret = path.join(outside, "secret.txt")
  fs.writeFileSync(secret, secretText)
  return {
    root,
    outside,
    secret,
    cleanup: () => {
      fs.rmSync(root, { recursive: true, force: true })
      fs.rmSync(outside, { recursive: true, force: true })
    }
  }
}

/** Writes a real file (creating its folders) under `root`. */
export const put = (root: string, relative: string, content: string | Uint8Array = "") => {
  const file = path.join(root, relative)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, content)
  return file
}

/** Creates a real symbolic link at `root/relative` pointing to `target` (as given: absolute or relative). */
export const link = (root: string, relative: string, target: string) => {
  const file = path.join(root, relative)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.symlinkSync(target, file)
  return file
}

/** RouterCoreLayer (Router, ToolRegistry, ToolStats, Sandbox, file tools) plus AppConfig on `root`. */
export const coreLayer = (root: string, tools: Record<string, unknown> = {}) =>
  RouterCoreLayer.pipe(
    Layer.provideMerge(AppConfig.layerFromInput({ tools: { ...tools, workingDir: root }, logging: { enableConsole: false } }))
  )

export const caller: Caller = { transport: "http", permissions: ["*"] }

export const callTool = (name: string, args: unknown) => Router.use((router) => router.call(caller, name, args))

/** The text of the first (only) content block. */
export const textOf = (output: ToolOutput): string => output.content.map((block) => block.text).join("\n")

/** The structured result, typed loosely for assertions. */
export const structured = (output: ToolOutput): Record<string, any> => output.structuredContent ?? {}

/** Files in `dir` whose names end in .tmp (left behind by an interrupted atomic write). */
export const tempFilesIn = (dir: string) => fs.readdirSync(dir).filter((name) => name.endsWith(".tmp"))

/** Runs `effect` on a fresh RouterCoreLayer whose working folder is `root`. */
export const runWith = <A, E, R>(root: string, effect: Effect.Effect<A, E, R>, tools: Record<string, unknown> = {}) =>
  effect.pipe(Effect.provide(coreLayer(root, tools)))

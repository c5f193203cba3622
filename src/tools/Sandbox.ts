/**
 * Confines every tool path to `tools.workingDir`. A path is refused when it escapes by `..`, is absolute
 * outside the folder, passes through a symbolic link (a parent folder included) that resolves outside,
 * or holds a NUL byte or is too long.
 *
 * Inside the folder, the router's own state is refused too, whatever the working folder is: the data dir
 * (`storage.dataDir`), the configuration files it was read from, the log dir (`logging.logDir`) and the
 * router's install folder. The check is made on the real path (after symbolic links), and a file with more
 * than one name is compared by identity (device and inode) with the router's files, so a hard link made
 * in the working folder does not reach them either. The protected set is worked out once per configuration.
 */
import { Context, Effect, Layer, Schema } from "effect"
import type { Stats } from "node:fs"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { AppConfig } from "../config/AppConfig.ts"
import type { RouterConfig } from "../config/schema.ts"

/** Linux limits: a whole path and one of its names. */
const maxPathLength = 4096
const maxNameLength = 255

export class PathRefused extends Schema.TaggedError<PathRefused>()("PathRefused", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Path ${JSON.stringify(this.path)} refused: ${this.reason}`
  }
}

export interface ResolvedPath {
  /** Absolute path inside the working folder, with symbolic links resolved where the path exists. */
  readonly absolute: string
  /** The same path relative to the working folder ("." for the folder itself). */
  readonly relative: string
}

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  // "..notes" is a name inside; only ".." itself or "../" leaves the folder
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

const lstatOrUndefined = (p: string) => fs.lstat(p).catch(() => undefined)

// ---------------------------------------------------------------------------------------------------------
// The router's own state

/** The folder holding the router's package.json, found from this module's location. */
const findInstallFolder = (): string => {
  const here = path.dirname(fileURLToPath(import.meta.url))
  for (let dir = here;;) {
    if (fsSync.existsSync(path.join(dir, "package.json"))) return dir
    const parent = path.dirname(dir)
    if (parent === dir) return path.resolve(here, "..", "..")
    dir = parent
  }
}

/** The router's install folder (its package root); a Reference so tests can point it elsewhere. */
export class RouterInstallFolder extends Context.Reference<string>("mcp-router/tools/RouterInstallFolder", {
  defaultValue: findInstallFolder
}) {}

/** One piece of the router's state that no tool may reach. */
export interface ProtectedPath {
  /** Absolute, with symbolic links resolved as far as it exists. */
  readonly path: string
  /** What it is, for messages: "the router's data dir (storage.dataDir)". */
  readonly what: string
  readonly folder: boolean
  /** The file system ignores case there (DATA names data), so names are compared case-folded. */
  readonly foldCase: boolean
}

const fold = (text: string) => text.normalize("NFC").toLowerCase()

/** Whether `candidate` is `base` or (for a folder) inside it; both absolute and normalised. */
export const atOrInside = (base: string, candidate: string, foldCase: boolean, folder = true): boolean => {
  const b = foldCase ? fold(base) : base
  const c = foldCase ? fold(candidate) : candidate
  if (b === c) return true
  if (!folder) return false
  return c.startsWith(b.endsWith(path.sep) ? b : b + path.sep)
}

/** The real path of `p` as far as it exists, with the missing rest attached lexically. */
const realAsFarAsExists = (p: string): string => {
  const rest: Array<string> = []
  for (let existing = p;;) {
    try {
      return path.join(fsSync.realpathSync.native(existing), ...rest)
    } catch {
      const parent = path.dirname(existing)
      if (parent === existing) return p
      rest.unshift(path.basename(existing))
      existing = parent
    }
  }
}

const swapCase = (name: string) =>
  Array.from(name, (c) => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join("")

/** Whether the file system holding `p` ignores case: the nearest existing name with a letter, case-swapped, is the same file. */
const ignoresCase = (p: string): boolean => {
  for (let probe = p;;) {
    const parent = path.dirname(probe)
    if (parent === probe) return false
    const name = path.basename(probe)
    const swapped = swapCase(name)
    const stat = swapped === name ? undefined : fsSync.statSync(probe, { throwIfNoEntry: false })
    if (stat !== undefined) {
      const other = fsSync.statSync(path.join(parent, swapped), { throwIfNoEntry: false })
      return other !== undefined && other.dev === stat.dev && other.ino === stat.ino
    }
    probe = parent
  }
}

const protectedPath = (p: string, what: string, folder: boolean): ProtectedPath => {
  const real = realAsFarAsExists(path.resolve(p))
  return { path: real, what, folder, foldCase: ignoresCase(real) }
}

const identity = (stat: { readonly dev: number; readonly ino: number }) => `${stat.dev}:${stat.ino}`

/** Files scanned in a protected folder at most, and how deep. */
const maxScannedFiles = 10_000
const maxScanDepth = 6
/** Folders of the install folder that are not indexed: dependencies (often hard-linked from a shared store) and history. */
const unindexed = new Set(["node_modules", ".git"])

type Owned = { readonly file: string; readonly owner: ProtectedPath }

/**
 * Adds the identities of the owners' files to `files`; records the time of every folder read in `stamps`.
 * The working folder is skipped: it may lie inside the install folder, and its own files are not the router's.
 */
const indexFiles = async (
  owners: ReadonlyArray<ProtectedPath>,
  files: Map<string, Owned>,
  stamps: Map<string, number>,
  skip: string
) => {
  let count = 0
  const stamp = async (dir: string) => stamps.set(dir, (await fs.stat(dir).catch(() => undefined))?.mtimeMs ?? -1)
  const walk = async (dir: string, owner: ProtectedPath, depth: number): Promise<void> => {
    await stamp(dir)
    const children = await fs.readdir(dir, { withFileTypes: true }).catch(() => [])
    for (const child of children) {
      if (count >= maxScannedFiles) return
      const full = path.join(dir, child.name)
      if (child.isDirectory()) {
        if (depth < maxScanDepth && !unindexed.has(child.name) && full !== skip) await walk(full, owner, depth + 1)
      } else if (child.isFile()) {
        count++
        const stat = await fs.stat(full).catch(() => undefined)
        if (stat !== undefined) files.set(identity(stat), { file: full, owner })
      }
    }
  }
  for (const owner of owners) {
    if (owner.folder) await walk(owner.path, owner, 1)
    else {
      // a file replaced by a rename changes its folder's time
      await stamp(path.dirname(owner.path))
      const stat = await fs.stat(owner.path).catch(() => undefined)
      if (stat !== undefined) files.set(identity(stat), { file: owner.path, owner })
    }
  }
}

/**
 * The identities (device, inode) of the router's files, to recognise a hard link to one of them under
 * another name. Consulted only for a file with more than one name, so an ordinary file costs nothing.
 * The files that change while the router runs (data dir, logs, config) are rescanned when one of their
 * folders changed (a new database journal, a rotated log); the install folder is indexed once.
 */
class HardLinkIndex {
  private readonly changing: ReadonlyArray<ProtectedPath>
  private readonly fixed: ReadonlyArray<ProtectedPath>
  private readonly root: string
  private files = new Map<string, Owned>()
  private folders = new Map<string, number>()
  private fixedFiles: Promise<Map<string, Owned>> | undefined
  private scan: Promise<void> | undefined
  private scanned = false

  constructor(changing: ReadonlyArray<ProtectedPath>, fixed: ReadonlyArray<ProtectedPath>, root: string) {
    this.changing = changing
    this.fixed = fixed
    this.root = root
  }

  private async changed(): Promise<boolean> {
    if (!this.scanned) return true
    for (const [dir, mtime] of this.folders) {
      if (((await fs.stat(dir).catch(() => undefined))?.mtimeMs ?? -1) !== mtime) return true
    }
    return false
  }

  /** Brings the index up to date; concurrent callers share one scan. */
  private fresh(): Promise<void> {
    this.scan ??= (async () => {
      try {
        this.fixedFiles ??= (async () => {
          const files = new Map<string, Owned>()
          await indexFiles(this.fixed, files, new Map(), this.root)
          return files
        })()
        await this.fixedFiles
        if (await this.changed()) {
          const files = new Map<string, Owned>()
          const folders = new Map<string, number>()
          await indexFiles(this.changing, files, folders, this.root)
          this.files = files
          this.folders = folders
          this.scanned = true
        }
      } finally {
        this.scan = undefined
      }
    })()
    return this.scan
  }

  /** The router's file that `stat` (a file found in the working folder) is another name of, if any. */
  async find(stat: Stats): Promise<Owned | undefined> {
    if (!stat.isFile() || stat.nlink < 2) return undefined
    await this.fresh()
    const key = identity(stat)
    return this.files.get(key) ?? (await this.fixedFiles)?.get(key)
  }

  /** The identities known now, after bringing the index up to date. */
  async identities(): Promise<ReadonlyArray<string>> {
    await this.fresh()
    return [...this.files.keys(), ...((await this.fixedFiles)?.keys() ?? [])]
  }
}

/** What search_files' worker leaves out: protected paths inside the working folder, and protected files' identities. */
export interface Exclusions {
  readonly paths: ReadonlyArray<{ readonly path: string; readonly foldCase: boolean }>
  /** `dev:ino` of the router's files, to skip hard links to them. */
  readonly identities: ReadonlyArray<string>
}

/** The router's state as seen from one configuration. */
export interface RouterState {
  /** Everything protected, wherever it is. */
  readonly all: ReadonlyArray<ProtectedPath>
  /** The protected paths inside (or equal to) the working folder: the only ones a path there can reach. */
  readonly inside: ReadonlyArray<ProtectedPath>
  /** Why a real path inside the working folder is refused, or undefined. */
  readonly refusal: (absolute: string) => string | undefined
  /** The protected path strictly inside the folder `absolute`, if any: a program run there could read it. */
  readonly containedIn: (absolute: string) => ProtectedPath | undefined
  /** Why a file (its stat) is refused as a hard link to the router's files, or undefined. */
  readonly hardLinkRefusal: (stat: Stats) => Promise<string | undefined>
  /** For search_files' worker; identities only when file contents are read. */
  readonly exclusions: (withIdentities: boolean) => Promise<Exclusions>
}

const never = " the tools never reach the router's own state"

export const makeRouterState = (
  config: RouterConfig,
  files: ReadonlyArray<string>,
  installFolder: string
): RouterState => {
  const root = config.tools.workingDir
  const changing = [
    protectedPath(config.storage.dataDir, "the router's data dir (storage.dataDir)", true),
    ...files.map((file) => protectedPath(file, "the router's configuration file", false)),
    protectedPath(config.logging.logDir, "the router's log dir (logging.logDir)", true)
  ]
  const install = protectedPath(installFolder, "the router's install folder", true)
  const all = [...changing, install]
  // a protected folder that holds the working folder is reached only through the working folder, whose other
  // protected paths are listed on their own; outside paths are refused by confinement already
  const inside = all.filter((p) => atOrInside(root, p.path, p.foldCase))
  const hardLinks = new HardLinkIndex(changing, [install], root)
  const refusal = (absolute: string) => {
    for (const p of inside) {
      if (atOrInside(p.path, absolute, p.foldCase, p.folder)) {
        const at = p.foldCase ? fold(absolute) === fold(p.path) : absolute === p.path
        return `it is ${at ? "" : "inside "}${p.what} ${p.path};${never}`
      }
    }
    return undefined
  }
  const hardLinkRefusal = async (stat: Stats) => {
    if (!stat.isFile() || stat.nlink < 2) return undefined
    const found = await hardLinks.find(stat)
    if (found === undefined) return undefined
    return found.owner.folder
      ? `it is a hard link to ${found.file}, inside ${found.owner.what} ${found.owner.path};${never}`
      : `it is a hard link to ${found.owner.what} ${found.file};${never}`
  }
  return {
    all,
    inside,
    refusal,
    containedIn: (absolute) => inside.find((p) => p.path !== absolute && atOrInside(absolute, p.path, p.foldCase)),
    hardLinkRefusal,
    exclusions: async (withIdentities) => ({
      paths: inside.map((p) => ({ path: p.path, foldCase: p.foldCase })),
      identities: withIdentities ? await hardLinks.identities() : []
    })
  }
}

/** Resolves `input` against the real root, following links only as far as the path exists. */
const confine = async (root: string, input: string, state: RouterState): Promise<ResolvedPath | string> => {
  if (input.includes("\0")) return "it contains a NUL byte"
  if (input.length > maxPathLength) return `it is longer than ${maxPathLength} characters`
  if (input.split(/[\\/]/).some((name) => name.length > maxNameLength)) {
    return `a name in it is longer than ${maxNameLength} characters`
  }
  const lexical = path.resolve(root, input)
  if (!isInside(root, lexical)) return `it is outside the working directory ${root}`
  // one stat tells whether the whole path exists and, for a file, which file it is (hard links)
  const target = await fs.stat(lexical).catch(() => undefined)
  // otherwise walk up to the deepest part that exists, resolve its links, then re-attach the rest
  let existing = lexical
  const rest: Array<string> = []
  if (target === undefined) {
    for (;;) {
      const stat = await lstatOrUndefined(existing)
      if (stat !== undefined) break
      rest.unshift(path.basename(existing))
      existing = path.dirname(existing)
    }
  }
  let real: string
  try {
    real = await fs.realpath(existing)
  } catch {
    // an entry that exists but cannot be resolved is a dangling or looping symbolic link
    return "it passes through a symbolic link whose target does not exist"
  }
  const absolute = path.join(real, ...rest)
  if (!isInside(root, absolute)) return `it resolves through a symbolic link to ${real}, outside the working directory ${root}`
  const refusal = state.refusal(absolute)
  if (refusal !== undefined) return refusal
  if (target !== undefined && target.nlink > 1) {
    const link = await state.hardLinkRefusal(target)
    if (link !== undefined) return link
  }
  return { absolute, relative: path.relative(root, absolute) || "." }
}

/** The start-up warning for a working folder that holds some of the router's state, or undefined. */
export const stateWarning = (root: string, state: RouterState): string | undefined =>
  state.inside.length === 0
    ? undefined
    : `tools.workingDir ${root} contains ${state.inside.map((p) => `${p.what} ${p.path}`).join(", ")}. ` +
      "The tools refuse these paths, and execute_command refuses to run in a folder that contains them; " +
      "point tools.workingDir at a dedicated folder (the default is \"workspace\")."

export class Sandbox extends Context.Service<Sandbox, {
  /** The real path of the working folder. */
  readonly root: () => string
  readonly resolve: (input: string) => Effect.Effect<ResolvedPath, PathRefused>
  /** As resolve, for a path about to be written: never inside a .git folder, whose configuration can run programs. */
  readonly resolveForWrite: (input: string) => Effect.Effect<ResolvedPath, PathRefused>
  /**
   * As resolve, for a folder a program runs in or a path it is given: a program may read everything
   * below it, so a folder that contains the router's own state is refused too.
   */
  readonly resolveForProgram: (input: string) => Effect.Effect<ResolvedPath, PathRefused>
  /** The router's own state under the configuration in force. */
  readonly state: () => RouterState
}>()("mcp-router/tools/Sandbox") {
  static readonly layer = Layer.effect(
    Sandbox,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const installFolder = yield* RouterInstallFolder
      const root = () => config.current().tools.workingDir
      // worked out again only when the configuration is replaced
      let cached: { readonly config: RouterConfig; readonly state: RouterState } | undefined
      const state = () => {
        const current = config.current()
        if (cached?.config !== current) cached = { config: current, state: makeRouterState(current, config.files, installFolder) }
        return cached.state
      }
      const warning = stateWarning(root(), state())
      if (warning !== undefined) yield* Effect.logWarning(warning)
      const refuse = (input: string, reason: string) => Effect.fail(new PathRefused({ path: input, reason }))
      const resolve = (input: string) =>
        Effect.promise(() => confine(root(), input, state())).pipe(
          Effect.flatMap((result) => (typeof result === "string" ? refuse(input, result) : Effect.succeed(result)))
        )
      return Sandbox.of({
        root,
        resolve,
        resolveForWrite: (input) =>
          Effect.flatMap(resolve(input), (resolved) =>
            resolved.relative.split(path.sep).some((name) => name.toLowerCase() === ".git")
              ? refuse(input, "it is inside a .git folder, whose configuration can run programs")
              : Effect.succeed(resolved)),
        resolveForProgram: (input) =>
          Effect.flatMap(resolve(input), (resolved) => {
            const held = state().containedIn(resolved.absolute)
            return held === undefined
              ? Effect.succeed(resolved)
              : refuse(input, `it contains ${held.what} ${held.path}, which a program run there could read;${never}`)
          }),
        state
      })
    })
  )
}

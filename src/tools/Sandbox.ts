/**
 * Confines every tool path to `tools.workingDir`. A path is refused when it escapes by `..`, is absolute
 * outside the folder, passes through a symbolic link (a parent folder included) that resolves outside,
 * or holds a NUL byte or is too long.
 *
 * The decision is made on the object, not on the path: the file tools get Handles. A path is opened once
 * (O_PATH: nothing is read, no FIFO waits, no device opens), and the opened object's real path is read from
 * its descriptor (`readlink /proc/self/fd/N`) and checked, with its fstat for hard links. Everything after
 * goes through that descriptor or `/proc/self/fd/N/name`: reading reopens the very file, a listing reads the
 * very folder, a write creates its file (O_EXCL, O_NOFOLLOW) and renames it within the very folder that was
 * verified, and checks what it made through the new file's descriptor (removing it if its folder was moved
 * outside meanwhile). A symbolic link swapped in on the path after the check therefore reaches nothing.
 * `resolve*` still check a path without opening it: for what a program is given (runProcess verifies a
 * program's folder again right before the spawn). Linux only: /proc/self/fd is required.
 *
 * Inside the folder, the router's own state is refused too, whatever the working folder is: the data dir
 * (`storage.dataDir`), the configuration files it was read from, the log dir (`logging.logDir`) and the
 * router's install folder. The check is made on the real path (after symbolic links), and a file with more
 * than one name is compared by identity (device and inode) with the router's files, so a hard link made
 * in the working folder does not reach them either. The protected set is worked out once per configuration.
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { randomBytes } from "node:crypto"
import type { Stats } from "node:fs"
import * as fsSync from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { AppConfig } from "../config/AppConfig.ts"
import type { RouterConfig } from "../config/schema.ts"
import * as fd_ from "./files/fd.ts"
import { fsFailure } from "./files/fileErrors.ts"
import { printableName } from "./printableName.ts"
import { ToolFailure } from "./ToolDefinition.ts"

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

/** `input` resolved lexically against the root (no file system access), or why it is refused as written. */
const lexicalPath = (root: string, input: string): { readonly lexical: string } | string => {
  if (input.includes("\0")) return "it contains a NUL byte"
  if (input.length > maxPathLength) return `it is longer than ${maxPathLength} characters`
  if (input.split(/[\\/]/).some((name) => name.length > maxNameLength)) {
    return `a name in it is longer than ${maxNameLength} characters`
  }
  const lexical = path.resolve(root, input)
  if (!isInside(root, lexical)) return `it is outside the working directory ${root}`
  return { lexical }
}

/**
 * Resolves `input` against the real root, following links only as far as the path exists. A check of a
 * path, not of an object: the tools use handles (Sandbox.open*), and this explains why a path could not be
 * opened, or names a folder for a program (whose cwd runProcess verifies again right before the spawn).
 */
const confine = async (root: string, input: string, state: RouterState): Promise<ResolvedPath | string> => {
  const checked = lexicalPath(root, input)
  if (typeof checked === "string") return checked
  const { lexical } = checked
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

// ---------------------------------------------------------------------------------------------------------
// Handles: the object that was checked is the object that is used

declare const verified: unique symbol

/**
 * A file or folder opened without being read (O_PATH), then verified through its descriptor: its real path
 * (`readlink /proc/self/fd/N`) is inside the working folder, is not the router's state, and it is not a hard
 * link to the router's files. Everything the tools do with it goes through the descriptor or through `at`,
 * so a symbolic link swapped in after the check reaches nothing. Closed when its scope closes.
 * Only the Sandbox makes them.
 */
export interface Handle {
  readonly [verified]: true
  readonly fd: number
  /** `/proc/self/fd/N`: the opened object itself, wherever it is now; `${at}/name` is an entry of an opened folder. */
  readonly at: string
  /** Its real path when it was verified. */
  readonly absolute: string
  /** The same, relative to the working folder ("." for the folder itself). */
  readonly relative: string
  /** fstat of the opened object. */
  readonly stat: Stats
}

/** Where write_file writes: a verified folder, and a name in it whose path was verified too. */
export interface WriteTarget {
  readonly folder: Handle
  readonly name: string
  readonly absolute: string
  readonly relative: string
  /** The file there (reached through the symbolic link that led to it, if any), or undefined for a new file. */
  readonly existing: Stats | undefined
}

export type WriteMode = "create" | "append" | "overwrite"

export interface Written {
  /** The file's size after the write. */
  readonly size: number
  readonly created: boolean
}

/** The moments between the steps of the Sandbox's work, where a test can act (swap a symbolic link, say). */
export type SandboxHookPoint =
  /** A path was opened; its real path is not read yet. Detail: the path opened. */
  | "opened"
  /** A file was verified and is about to be read. Detail: its real path. */
  | "before-read"
  /** The folder a file is written in was verified; the file is not opened yet. Detail: the file's path. */
  | "before-write"
  /** A temporary file was written, and is about to be renamed over the file. Detail: the file's path. */
  | "before-rename"

/** Test hooks: called at each SandboxHookPoint (nothing in production). */
export class SandboxHooks extends Context.Reference<{
  readonly at?: (point: SandboxHookPoint, detail: string) => void | Promise<void>
}>("mcp-router/tools/SandboxHooks", { defaultValue: () => ({}) }) {}

/** What one operation needs: the configuration in force when it started. */
interface Confinement {
  readonly root: string
  readonly state: RouterState
  readonly hook: ((point: SandboxHookPoint, detail: string) => void | Promise<void>) | undefined
}

const codeOf = (error: unknown) => (error as NodeJS.ErrnoException | undefined)?.code

const refusedError = (input: string, reason: string) => new PathRefused({ path: input, reason })

const itself = () => new ToolFailure({ message: "path names the working directory itself, not a file" })

const relativeTo = (root: string, absolute: string) => path.relative(root, absolute) || "."

const gitFolderReason = "it is inside a .git folder, whose configuration can run programs"
const insideGitFolder = (relative: string) => relative.split(path.sep).some((name) => name.toLowerCase() === ".git")

/** Why the object with real path `real` and `stat` may not be used, or undefined. */
const refusalOf = async (c: Confinement, real: string, stat: Stats): Promise<string | undefined> => {
  if (stat.nlink === 0) return "it was removed while it was being opened"
  // a path the kernel cannot name from this process's root ("pipe:[12]", another mount namespace) is not inside
  if (!path.isAbsolute(real) || !isInside(c.root, real)) {
    return `it resolves through a symbolic link to ${real}, outside the working directory ${c.root}`
  }
  const refusal = c.state.refusal(real)
  if (refusal !== undefined) return refusal
  return stat.isFile() && stat.nlink > 1 ? c.state.hardLinkRefusal(stat) : undefined
}

/** Why a file may not be written at `absolute` (a verified path), or undefined. */
const writeRefusal = (c: Confinement, absolute: string): string | undefined =>
  c.state.refusal(absolute) ?? (insideGitFolder(path.relative(c.root, absolute)) ? gitFolderReason : undefined)

/** Verifies the object open as `fd` and makes it a Handle; closes it and fails when it may not be used. */
const verify = async (c: Confinement, input: string, fd: number, opened: string): Promise<Handle> => {
  try {
    if (c.hook !== undefined) await c.hook("opened", opened)
    const stat = fd_.fstat(fd)
    const real = fd_.realPathOf(fd)
    const reason = await refusalOf(c, real, stat)
    if (reason !== undefined) throw refusedError(input, reason)
    return { fd, at: fd_.procPath(fd), absolute: real, relative: relativeTo(c.root, real), stat } as Handle
  } catch (error) {
    fd_.close(fd)
    throw error
  }
}

/** Why `input` could not be opened: the refusal a resolution of it gives (a link outside, a dangling link), else the file system's error. */
const explain = async (c: Confinement, input: string, error: unknown): Promise<PathRefused | ToolFailure> => {
  const resolved = await confine(c.root, input, c.state)
  return typeof resolved === "string" ? refusedError(input, resolved) : fsFailure(resolved.relative, error)
}

const lexicalOrThrow = (c: Confinement, input: string): string => {
  const checked = lexicalPath(c.root, input)
  if (typeof checked === "string") throw refusedError(input, checked)
  return checked.lexical
}

/** Opens `input`, following symbolic links (those that end inside pass), and verifies what was opened. */
const openPath = async (c: Confinement, input: string): Promise<Handle> => {
  const lexical = lexicalOrThrow(c, input)
  let fd: number
  try {
    fd = fd_.openPath(lexical)
  } catch (error) {
    throw await explain(c, input, error)
  }
  return verify(c, input, fd, lexical)
}

/** Opens the entry `name` of a verified folder, never following a symbolic link there; undefined when it is gone, or refused. */
const openEntry = async (c: Confinement, folder: Handle, name: string, directory: boolean): Promise<Handle | undefined> => {
  let fd: number
  try {
    // with O_PATH, O_NOFOLLOW opens a symbolic link itself; O_DIRECTORY then refuses it
    fd = fd_.openPath(fd_.procChild(folder.fd, name), fd_.O_NOFOLLOW | (directory ? fd_.O_DIRECTORY : 0))
  } catch {
    return undefined
  }
  return verify(c, name, fd, path.join(folder.absolute, name)).catch(() => undefined)
}

/** Reads `length` bytes at `offset` of a verified file, reopened through its descriptor: the same file, whatever its path leads to now. */
const readFrom = async (c: Confinement, file: Handle, offset: number, length: number): Promise<Buffer> => {
  if (c.hook !== undefined) await c.hook("before-read", file.absolute)
  // a small read of a regular file is done synchronously (fd.ts, readNow); anything else in the thread pool
  const small = file.stat.isFile() && length <= fd_.smallReadBytes
  let fd: number
  try {
    fd = small ? fd_.openForSmallRead(file.at) : await fd_.open(file.at, fd_.O_RDONLY | fd_.O_NOCTTY)
  } catch (error) {
    throw fsFailure(file.relative, error)
  }
  try {
    const buffer = Buffer.allocUnsafe(length)
    let done = 0
    while (done < length) {
      const bytesRead = small ? fd_.readNow(fd, buffer, done, length - done, offset + done) : await fd_.read(fd, buffer, done, length - done, offset + done)
      if (bytesRead === 0) break
      done += bytesRead
    }
    return buffer.subarray(0, done)
  } catch (error) {
    throw fsFailure(file.relative, error)
  } finally {
    fd_.close(fd)
  }
}

/** Opens the folder at `real` (a real path just verified) and checks it is still that folder. */
const openFolderAt = async (c: Confinement, input: string, real: string): Promise<Handle> => {
  let fd: number
  try {
    fd = fd_.openPath(real, fd_.O_DIRECTORY)
  } catch (error) {
    throw changed(input, error)
  }
  const folder = await verify(c, input, fd, real)
  if (folder.absolute !== real) {
    fd_.close(fd)
    throw changed(input, undefined)
  }
  return folder
}

const changed = (input: string, error: unknown) =>
  new ToolFailure({
    message: `${printableName(input)} changed while it was being written (a folder on its path was moved or replaced${
      error === undefined ? "" : `: ${codeOf(error) ?? (error as Error).message}`
    }); nothing was written, try again`
  })

/**
 * The verified folder a new file `name` is made in: the folder `lexicalFolder` leads to, or with createDirs
 * its missing folders, each made inside the folder verified before it (mkdir and open through
 * `/proc/self/fd/N/name`, never following a link put there meanwhile).
 */
const folderForNew = async (c: Confinement, input: string, lexicalFolder: string, name: string, createDirs: boolean): Promise<Handle> => {
  const missing: Array<string> = []
  let dir = lexicalFolder
  let fd: number
  for (;;) {
    try {
      fd = fd_.openPath(dir)
      break
    } catch (error) {
      // a name that is there but cannot be followed is a dangling symbolic link: explained as such
      if (codeOf(error) !== "ENOENT" || dir === c.root || (await fs.lstat(dir).catch(() => undefined)) !== undefined) {
        throw await explain(c, input, error)
      }
      missing.unshift(path.basename(dir))
      dir = path.dirname(dir)
    }
  }
  let folder = await verify(c, input, fd, dir)
  try {
    if (!folder.stat.isDirectory()) throw new ToolFailure({ message: `${printableName(folder.relative)} is not a folder` })
    if (missing.length === 0) return folder
    // the whole path is checked before anything is made
    const planned = path.join(folder.absolute, ...missing, name)
    const reason = writeRefusal(c, planned)
    if (reason !== undefined) throw refusedError(input, reason)
    const first = relativeTo(c.root, path.join(folder.absolute, ...missing))
    if (!createDirs) throw new ToolFailure({ message: `folder ${printableName(first)} does not exist; pass createDirs: true to create it` })
    for (const part of missing) {
      const entry = fd_.procChild(folder.fd, part)
      const shown = relativeTo(c.root, path.join(folder.absolute, part))
      await fs.mkdir(entry).catch((error) => {
        if (codeOf(error) !== "EEXIST") throw fsFailure(shown, error)
      })
      let next: number
      try {
        next = fd_.openPath(entry, fd_.O_DIRECTORY | fd_.O_NOFOLLOW)
      } catch (error) {
        throw fsFailure(shown, error)
      }
      const previous = folder
      folder = await verify(c, input, next, path.join(previous.absolute, part))
      fd_.close(previous.fd)
    }
    return folder
  } catch (error) {
    fd_.close(folder.fd)
    throw error
  }
}

const writeTarget = (c: Confinement, input: string, folder: Handle, name: string, existing: Stats | undefined): WriteTarget => {
  const absolute = path.join(folder.absolute, name)
  const reason = writeRefusal(c, absolute)
  if (reason !== undefined) {
    fd_.close(folder.fd)
    throw refusedError(input, reason)
  }
  return { folder, name, absolute, relative: relativeTo(c.root, absolute), existing }
}

/**
 * Where a file at `input` is written. An existing file (through a symbolic link that ends inside, too) is
 * verified through its descriptor, then its folder is opened by the real path found and checked to be the
 * same; a new file's folder is opened and verified. The write itself goes through that folder's descriptor.
 */
const openForWrite = async (c: Confinement, input: string, createDirs: boolean): Promise<WriteTarget> => {
  const lexical = lexicalOrThrow(c, input)
  if (lexical === c.root) throw itself()
  let fd: number | undefined
  try {
    fd = fd_.openPath(lexical)
  } catch (error) {
    if (codeOf(error) !== "ENOENT") throw await explain(c, input, error)
  }
  if (fd !== undefined) {
    const file = await verify(c, input, fd, lexical)
    try {
      if (file.stat.isDirectory()) throw file.absolute === c.root ? itself() : new ToolFailure({ message: `${printableName(file.relative)} is a directory` })
      const folder = await openFolderAt(c, input, path.dirname(file.absolute))
      return writeTarget(c, input, folder, path.basename(file.absolute), file.stat)
    } finally {
      fd_.close(file.fd)
    }
  }
  // nothing to follow there: a name that exists all the same is a dangling symbolic link
  if ((await fs.lstat(lexical).catch(() => undefined)) !== undefined) throw await explain(c, input, undefined)
  const folder = await folderForNew(c, input, path.dirname(lexical), path.basename(lexical), createDirs)
  return writeTarget(c, input, folder, path.basename(lexical), undefined)
}

/** Removes `name` from the folder if it is still the file `stat` describes (one this write created). */
const removeCreated = async (folder: Handle, name: string, stat: Stats) => {
  const entry = fd_.procChild(folder.fd, name)
  const now = await fs.lstat(entry).catch(() => undefined)
  if (now !== undefined && now.dev === stat.dev && now.ino === stat.ino) await fs.unlink(entry).catch(() => undefined)
}

/**
 * Checks a file this write opened, through its descriptor: a regular file, still inside, not the router's.
 * When it is not, what this write created is removed and the write fails.
 */
const checkWritten = async (c: Confinement, input: string, target: WriteTarget, name: string, fd: number, created: boolean) => {
  const stat = fd_.fstat(fd)
  const real = fd_.realPathOf(fd)
  if (stat.nlink === 0) {
    throw new ToolFailure({ message: `${printableName(target.relative)} was removed or replaced by someone else while it was being written` })
  }
  if (!stat.isFile()) throw new ToolFailure({ message: `${printableName(target.relative)} is not a regular file` })
  const reason = (await refusalOf(c, real, stat)) ?? writeRefusal(c, real)
  if (reason === undefined) return stat
  if (created) await removeCreated(target.folder, name, stat)
  throw refusedError(
    input,
    `${reason} (its folder was moved or replaced while it was being written${created ? "; the file made there was removed" : ""})`
  )
}

const writeFlags = fd_.O_WRONLY | fd_.O_NOFOLLOW | fd_.O_NONBLOCK | fd_.O_NOCTTY

/** A name for the temporary file beside `name`, within the 255-byte limit of a name. */
const temporaryName = (name: string) => `.${name.slice(0, 200)}.${randomBytes(6).toString("hex")}.tmp`

/**
 * Writes `data` at a verified target, through its folder's descriptor: create (O_CREAT|O_EXCL), append, or
 * overwrite (a temporary file made with O_EXCL beside it, written, then renamed over it within that same
 * folder: a reader never sees half a file, a crash leaves the old one, and the new one keeps the old one's
 * permissions). Every file opened is verified through its descriptor before data goes in, and the renamed
 * file after the rename; O_NOFOLLOW refuses a symbolic link swapped in at the name.
 */
const writeTo = async (c: Confinement, input: string, target: WriteTarget, data: Uint8Array, mode: WriteMode): Promise<Written> => {
  const { folder, name } = target
  const entry = fd_.procChild(folder.fd, name)
  if (c.hook !== undefined) await c.hook("before-write", target.absolute)
  const openFile = (file: string, flags: number, permissions = 0o666) =>
    fd_.open(file, flags, permissions).catch((error) => {
      // O_NOFOLLOW on a symbolic link
      if (codeOf(error) === "ELOOP") throw changed(input, error)
      throw fsFailure(target.relative, error)
    })
  switch (mode) {
    case "create":
    case "append": {
      const created = mode === "create" || target.existing === undefined
      const fd = await openFile(entry, writeFlags | fd_.O_CREAT | (mode === "create" ? fd_.O_EXCL : fd_.O_APPEND))
      try {
        await checkWritten(c, input, target, name, fd, created)
        await fd_.writeAll(fd, data).catch((error) => Promise.reject(fsFailure(target.relative, error)))
        return { size: fd_.fstat(fd).size, created }
      } finally {
        fd_.close(fd)
      }
    }
    case "overwrite": {
      const permissions = target.existing === undefined ? undefined : target.existing.mode & 0o7777
      const temporary = temporaryName(name)
      const fd = await openFile(fd_.procChild(folder.fd, temporary), writeFlags | fd_.O_CREAT | fd_.O_EXCL, permissions ?? 0o666)
      let renamed = false
      try {
        const made = await checkWritten(c, input, target, temporary, fd, true)
        await fd_.writeAll(fd, data)
        // the mode given to open is masked by the umask: set it as it was
        if (permissions !== undefined) await fd_.fchmod(fd, permissions)
        if (c.hook !== undefined) await c.hook("before-rename", target.absolute)
        await fs.rename(fd_.procChild(folder.fd, temporary), entry)
        renamed = true
        // the file now at the name, through the descriptor of the file written: still inside
        const final = fd_.fstat(fd)
        const real = fd_.realPathOf(fd)
        const reason = final.nlink === 0 ? undefined : (await refusalOf(c, real, final)) ?? writeRefusal(c, real)
        if (reason !== undefined) {
          await removeCreated(folder, name, made)
          throw refusedError(input, `${reason} (its folder was moved or replaced while it was being written; the file made there was removed)`)
        }
        return { size: data.length, created: target.existing === undefined }
      } catch (error) {
        if (!renamed) await fs.unlink(fd_.procChild(folder.fd, temporary)).catch(() => undefined)
        throw error instanceof PathRefused || error instanceof ToolFailure ? error : fsFailure(target.relative, error)
      } finally {
        fd_.close(fd)
      }
    }
  }
}

/** Runs one step of the handle work; a failure that is not a refusal or a ToolFailure names the path. */
const attempt = <A>(input: string, run: () => Promise<A>): Effect.Effect<A, PathRefused | ToolFailure> =>
  Effect.tryPromise({
    try: run,
    catch: (error) => (error instanceof PathRefused || error instanceof ToolFailure ? error : fsFailure(input, error))
  })

/** A handle closed when the scope closes. Opening is not interrupted, so nothing opened is left behind. */
const scopedHandle = <A extends { readonly fd: number } | { readonly folder: { readonly fd: number } }>(
  acquire: Effect.Effect<A, PathRefused | ToolFailure>
): Effect.Effect<A, PathRefused | ToolFailure, Scope.Scope> =>
  Effect.acquireRelease(acquire, (a) => Effect.sync(() => fd_.close("fd" in a ? a.fd : a.folder.fd)))

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
  /**
   * Opens a file or folder (following symbolic links that end inside) and verifies the object opened:
   * the tools read, list and search through the Handle, never by path again. Closed with the scope.
   */
  readonly open: (input: string) => Effect.Effect<Handle, PathRefused | ToolFailure, Scope.Scope>
  /** As open, for a folder: anything else fails with "is not a directory". */
  readonly openDirectory: (input: string) => Effect.Effect<Handle, PathRefused | ToolFailure, Scope.Scope>
  /**
   * The entry `name` of a verified folder, opened without following a symbolic link (with `directory`, only
   * a real folder) and verified; undefined when it is gone, is something else, or is refused.
   */
  readonly openEntry: (folder: Handle, name: string, options?: { readonly directory?: boolean }) => Effect.Effect<Handle | undefined, never, Scope.Scope>
  /** Reads bytes of a verified regular file through its descriptor. */
  readonly read: (file: Handle, offset: number, length: number) => Effect.Effect<Buffer, PathRefused | ToolFailure>
  /** Where a file is written: its folder opened and verified (with createDirs, missing folders made inside it, each verified). */
  readonly openForWrite: (input: string, options: { readonly createDirs: boolean }) => Effect.Effect<WriteTarget, PathRefused | ToolFailure, Scope.Scope>
  /** Writes through the target's folder descriptor, verifying every file it opens (see writeTo). */
  readonly write: (target: WriteTarget, data: Uint8Array, mode: WriteMode) => Effect.Effect<Written, PathRefused | ToolFailure>
  /**
   * The real path of `input` (as far as it exists) after the checks, without opening it: for a path given to
   * a program, which opens it itself. The file tools use the handles above.
   */
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
      const hooks = yield* SandboxHooks
      if (!fd_.procAvailable()) {
        yield* Effect.logWarning("/proc/self/fd is not available: the file tools need it (Linux with procfs) to verify what they open, and will fail")
      }
      const confinement = (): Confinement => ({ root: root(), state: state(), hook: hooks.at })
      const refuse = (input: string, reason: string) => Effect.fail(new PathRefused({ path: input, reason }))
      const open = (input: string) => scopedHandle(attempt(input, () => openPath(confinement(), input)))
      const resolve = (input: string) =>
        Effect.promise(() => confine(root(), input, state())).pipe(
          Effect.flatMap((result) => (typeof result === "string" ? refuse(input, result) : Effect.succeed(result)))
        )
      return Sandbox.of({
        root,
        open,
        openDirectory: (input) =>
          Effect.flatMap(open(input), (handle) =>
            handle.stat.isDirectory() ? Effect.succeed(handle) : Effect.fail(new ToolFailure({ message: `${printableName(handle.relative)} is not a directory` }))),
        openEntry: (folder, name, options) =>
          Effect.acquireRelease(
            Effect.promise(() => openEntry(confinement(), folder, name, options?.directory === true)),
            (handle) => Effect.sync(() => handle !== undefined && fd_.close(handle.fd))
          ),
        // not interruptible: the descriptors it uses stay open until it is done
        read: (file, offset, length) => Effect.uninterruptible(attempt(file.relative, () => readFrom(confinement(), file, offset, length))),
        openForWrite: (input, options) => scopedHandle(attempt(input, () => openForWrite(confinement(), input, options.createDirs))),
        write: (target, data, mode) => Effect.uninterruptible(attempt(target.relative, () => writeTo(confinement(), target.relative, target, data, mode))),
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

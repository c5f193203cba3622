/**
 * The file system git_status reads through (and gives isomorphic-git): read-only and confined to the
 * working directory.
 *
 * - Reads open the file first and check the opened file's real path (`/proc/self/fd/N` on Linux) before
 *   reading it, so a folder swapped for a symbolic link between a check and the read is caught; folders are
 *   listed the same way (through the opened folder). Where /proc is missing the real path is checked
 *   just before opening instead.
 * - `lstat` and `readlink` read only metadata and a link's own text; their folder's real path must be inside
 *   (`lstatInFolder` remembers each folder's real path for the run: metadata of a folder swapped for a link
 *   meanwhile could be read, never a file's content).
 * - Only regular files are read (a FIFO or device reads as missing), each at most `maxFileBytes`.
 * - Every write (file, folder, link, removal) is refused.
 *
 * A refusal is thrown as ENOENT (isomorphic-git then treats the path as missing instead of logging) and
 * recorded: after the operation, `problem()` says what was refused, and the caller fails with it.
 * Once `signal` is aborted (the call timed out) every operation fails at once.
 *
 * The system calls are synchronous (a thread-pool round trip per stat costs ~50 times the call on big
 * trees), in slices: every operation first yields to the event loop when the slice has run 5 ms, so other
 * requests, timers and the call's own timeout keep running.
 */
import * as fs from "node:fs"
import * as path from "node:path"
import type { PromiseFsClient } from "isomorphic-git"

const { constants } = fs

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

const notFound = (p: string, why: string) => Object.assign(new Error(`ENOENT: ${why}, '${p}'`), { code: "ENOENT", path: p })

export interface FolderEntry {
  readonly name: string
  readonly isDirectory: boolean
}

export interface ConfinedOps {
  readonly readFile: (p: string, opts?: unknown) => Promise<Buffer | string>
  /** A file's content without following a symbolic link at its last name (a link reads as missing). */
  readonly readOwnFile: (p: string) => Promise<Buffer>
  readonly readdir: (p: string) => Promise<Array<string>>
  readonly readdirTypes: (p: string) => Promise<ReadonlyArray<FolderEntry>>
  readonly lstatInFolder: (p: string) => Promise<fs.BigIntStats>
  readonly stat: (p: string) => Promise<fs.Stats>
  readonly lstat: (p: string) => Promise<fs.Stats>
  readonly readlink: (p: string) => Promise<string>
}

export interface ConfinedFs {
  /** The object to pass as isomorphic-git's `fs`. */
  readonly client: PromiseFsClient
  /** The same operations, for direct use. */
  readonly ops: ConfinedOps
  /** The first refusal (a path outside, a write, a file too large), if any. */
  readonly problem: () => string | undefined
}

const sliceMs = 5

export const confinedReadOnlyFs = (root: string, options: { readonly maxFileBytes: number; readonly signal?: AbortSignal | undefined }): ConfinedFs => {
  let problem: string | undefined
  let sliceStart = performance.now()
  const refuse = (p: string, reason: string): never => {
    problem ??= reason
    throw notFound(p, reason)
  }
  /** Yields to the event loop when this slice has run long enough; fails once the call was stopped. */
  const turn = async (p: string) => {
    if (performance.now() - sliceStart > sliceMs) {
      await new Promise((resolve) => setImmediate(resolve))
      sliceStart = performance.now()
    }
    if (options.signal?.aborted) throw notFound(p, "the call was stopped")
  }
  const lexical = (p: unknown): string => {
    if (typeof p !== "string") throw notFound(String(p), "not a path")
    const absolute = path.resolve(p)
    if (!isInside(root, absolute)) refuse(absolute, `git_status would have read ${absolute}, outside the working directory ${root}`)
    return absolute
  }
  const checkReal = (p: string, real: string) => {
    if (!isInside(root, real)) refuse(p, `git_status would have read ${p}, which is really ${real}, outside the working directory ${root}`)
  }
  /** The real path of an opened file, from /proc; undefined where /proc is missing. */
  const openedPath = (fd: number) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`)
    } catch {
      return undefined
    }
  }
  /** Opens `p` and checks where the opened file really is; returns the descriptor. */
  const openChecked = (p: string, flags: number) => {
    checkReal(p, fs.realpathSync.native(p))
    const fd = fs.openSync(p, flags)
    try {
      const real = openedPath(fd)
      if (real !== undefined) {
        if (real.endsWith(" (deleted)")) throw notFound(p, "it was removed")
        checkReal(p, real)
      }
      return fd
    } catch (error) {
      fs.closeSync(fd)
      throw error
    }
  }
  /** The real path of `p`'s folder joined with its name: lstat and readlink act on the name itself. */
  const inRealFolder = (p: string) => {
    const joined = path.join(fs.realpathSync.native(path.dirname(p)), path.basename(p))
    checkReal(p, joined)
    return joined
  }
  const realFolders = new Map<string, string>()
  const inRememberedFolder = (p: string) => {
    const folder = path.dirname(p)
    let real = realFolders.get(folder)
    if (real === undefined) {
      real = fs.realpathSync.native(folder)
      realFolders.set(folder, real)
    }
    const joined = path.join(real, path.basename(p))
    checkReal(p, joined)
    return joined
  }
  const encodingOf = (opts: unknown): BufferEncoding | undefined =>
    typeof opts === "string" ? (opts as BufferEncoding) : (opts as { encoding?: BufferEncoding } | undefined)?.encoding

  const readChecked = async (p: unknown, opts: unknown, noFollow: boolean) => {
    const absolute = lexical(p)
    await turn(absolute)
    // a link at the last name reads as missing (as git reads .gitignore); a link swapped in later fails to open
    if (noFollow && fs.lstatSync(absolute).isSymbolicLink()) throw notFound(absolute, "a symbolic link")
    let fd: number
    try {
      fd = openChecked(absolute, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY | (noFollow ? constants.O_NOFOLLOW : 0))
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ELOOP" && noFollow) throw notFound(absolute, "a symbolic link")
      throw error
    }
    try {
      const stat = fs.fstatSync(fd)
      if (!stat.isFile()) throw notFound(absolute, "not a regular file")
      if (stat.size > options.maxFileBytes) {
        refuse(absolute, `${absolute} is larger than ${options.maxFileBytes} bytes; git_status reads whole files (and packs) into memory`)
      }
      const data = fs.readFileSync(fd)
      const encoding = encodingOf(opts)
      return encoding === undefined ? data : data.toString(encoding)
    } finally {
      fs.closeSync(fd)
    }
  }
  /** Lists the folder that was opened and checked, not whatever its name leads to now. */
  const listChecked = async <A>(p: unknown, list: (folder: string) => A): Promise<A> => {
    const absolute = lexical(p)
    await turn(absolute)
    const fd = openChecked(absolute, constants.O_RDONLY | constants.O_DIRECTORY)
    try {
      return list(openedPath(fd) === undefined ? absolute : `/proc/self/fd/${fd}`)
    } finally {
      fs.closeSync(fd)
    }
  }
  const readOnly = (name: string) => async (p: unknown) => {
    const at = typeof p === "string" ? p : String(p)
    return refuse(at, `git_status does not write, but it was about to (${name} ${at})`)
  }

  const ops = {
    readFile: (p: unknown, opts?: unknown) => readChecked(p, opts, false),
    readOwnFile: (p: unknown) => readChecked(p, undefined, true) as Promise<Buffer>,
    readdir: (p: unknown) => listChecked(p, (folder) => fs.readdirSync(folder)),
    readdirTypes: (p: unknown) =>
      listChecked(p, (folder) => fs.readdirSync(folder, { withFileTypes: true }).map((d) => ({ name: d.name, isDirectory: d.isDirectory() }))),
    async lstatInFolder(p: unknown) {
      const absolute = lexical(p)
      await turn(absolute)
      return fs.lstatSync(inRememberedFolder(absolute), { bigint: true })
    },
    async stat(p: unknown) {
      const absolute = lexical(p)
      await turn(absolute)
      const real = fs.realpathSync.native(absolute)
      checkReal(absolute, real)
      return fs.statSync(real)
    },
    async lstat(p: unknown) {
      const absolute = lexical(p)
      await turn(absolute)
      return fs.lstatSync(inRealFolder(absolute))
    },
    async readlink(p: unknown) {
      const absolute = lexical(p)
      await turn(absolute)
      return fs.readlinkSync(inRealFolder(absolute))
    }
  }
  const client = {
    ...ops,
    writeFile: readOnly("writeFile"),
    mkdir: readOnly("mkdir"),
    rmdir: readOnly("rmdir"),
    unlink: readOnly("unlink"),
    symlink: readOnly("symlink"),
    rm: readOnly("rm"),
    cp: readOnly("cp"),
    chmod: readOnly("chmod"),
    rename: readOnly("rename")
  }
  return { client: { promises: client }, ops, problem: () => problem }
}

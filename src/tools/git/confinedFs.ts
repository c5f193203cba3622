/**
 * The file system git_status gives isomorphic-git: read-only and confined to the working directory.
 *
 * - Reads open the file first and check the opened file's real path (`/proc/self/fd/N` on Linux) before
 *   reading it, so a folder swapped for a symbolic link between a check and the read is caught; folders are
 *   listed the same way (through the opened folder). Where /proc is missing the real path is checked
 *   just before opening instead.
 * - `lstat` and `readlink` read only metadata and a link's own text; their folder's real path must be inside.
 * - Only regular files are read (a FIFO or device reads as missing), each at most `maxFileBytes`.
 * - Every write (file, folder, link, removal) is refused.
 *
 * A refusal is thrown as ENOENT (isomorphic-git then treats the path as missing instead of logging) and
 * recorded: after the operation, `problem()` says what was refused, and the caller fails with it.
 * Once `signal` is aborted (the call timed out) every operation fails at once.
 */
import { constants } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import type { PromiseFsClient } from "isomorphic-git"

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

const notFound = (p: string, why: string) => Object.assign(new Error(`ENOENT: ${why}, '${p}'`), { code: "ENOENT", path: p })

export interface ConfinedOps {
  readonly readFile: (p: string, opts?: unknown) => Promise<Buffer | string>
  readonly readdir: (p: string) => Promise<Array<string>>
  readonly stat: (p: string) => Promise<import("node:fs").Stats>
  readonly lstat: (p: string) => Promise<import("node:fs").Stats>
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

export const confinedReadOnlyFs = (root: string, options: { readonly maxFileBytes: number; readonly signal?: AbortSignal | undefined }): ConfinedFs => {
  let problem: string | undefined
  const refuse = (p: string, reason: string): never => {
    problem ??= reason
    throw notFound(p, reason)
  }
  const live = (p: string) => {
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
  const openedPath = async (handle: fs.FileHandle) => {
    try {
      return await fs.readlink(`/proc/self/fd/${handle.fd}`)
    } catch {
      return undefined
    }
  }
  /** Opens `p` and checks where the opened file really is. */
  const openChecked = async (p: string, flags: number) => {
    const fallback = await fs.realpath(p)
    checkReal(p, fallback)
    const handle = await fs.open(p, flags)
    try {
      const real = await openedPath(handle)
      if (real !== undefined) {
        if (real.endsWith(" (deleted)")) throw notFound(p, "it was removed")
        checkReal(p, real)
      }
      return handle
    } catch (error) {
      await handle.close()
      throw error
    }
  }
  /** The real path of `p`'s folder joined with its name: lstat and readlink act on the name itself. */
  const inRealFolder = async (p: string) => {
    const folder = await fs.realpath(path.dirname(p))
    const joined = path.join(folder, path.basename(p))
    checkReal(p, joined)
    return joined
  }
  const encodingOf = (opts: unknown): BufferEncoding | undefined =>
    typeof opts === "string" ? (opts as BufferEncoding) : (opts as { encoding?: BufferEncoding } | undefined)?.encoding

  const readOnly = (name: string) => async (p: unknown) => {
    const at = typeof p === "string" ? p : String(p)
    return refuse(at, `git_status does not write, but it was about to (${name} ${at})`)
  }

  const client = {
    async readFile(p: unknown, opts?: unknown) {
      const absolute = lexical(p)
      live(absolute)
      const handle = await openChecked(absolute, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY)
      try {
        const stat = await handle.stat()
        if (!stat.isFile()) throw notFound(absolute, "not a regular file")
        if (stat.size > options.maxFileBytes) {
          refuse(absolute, `${absolute} is larger than ${options.maxFileBytes} bytes; git_status reads whole files (and packs) into memory`)
        }
        const data = await handle.readFile()
        const encoding = encodingOf(opts)
        return encoding === undefined ? data : data.toString(encoding)
      } finally {
        await handle.close()
      }
    },
    async readdir(p: unknown) {
      const absolute = lexical(p)
      live(absolute)
      const handle = await openChecked(absolute, constants.O_RDONLY | constants.O_DIRECTORY)
      try {
        // list the folder that was opened and checked, not whatever the name leads to now
        const viaProc = (await openedPath(handle)) === undefined ? absolute : `/proc/self/fd/${handle.fd}`
        return await fs.readdir(viaProc)
      } finally {
        await handle.close()
      }
    },
    async stat(p: unknown) {
      const absolute = lexical(p)
      live(absolute)
      const real = await fs.realpath(absolute)
      checkReal(absolute, real)
      return fs.stat(real)
    },
    async lstat(p: unknown) {
      const absolute = lexical(p)
      live(absolute)
      return fs.lstat(await inRealFolder(absolute))
    },
    async readlink(p: unknown) {
      const absolute = lexical(p)
      live(absolute)
      return fs.readlink(await inRealFolder(absolute))
    },
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
  return { client: { promises: client }, ops: client, problem: () => problem }
}

/**
 * The search itself, in a worker thread: a caller's regular expression can backtrack for minutes, and
 * synchronous matching cannot be interrupted, but a worker can be terminated when the call times out.
 *
 * The worker is long-lived (searchPool.ts keeps a few warm) and searches one request at a time. The search
 * folder arrives open: the number of the descriptor the Sandbox verified, sent with each request (worker
 * threads share the process's descriptors; the caller closes it once the worker has answered or has been
 * terminated). Every folder below is opened from the one above it through `/proc/self/fd/N/name` without
 * following a symbolic link, every file likewise (O_PATH, then reopened for reading only when fstat says it
 * is a regular file), and each real path is checked inside the working folder: a symbolic link swapped in
 * at any point is never followed. The descriptors the worker opens are closed as it goes (a search that
 * fails or is cut short closes its own in `finally`), and by Node when it is terminated.
 */
import { readlinkSync } from "node:fs"
import * as fs from "node:fs/promises"
import { getPriority, setPriority } from "node:os"
import * as path from "node:path"
import { parentPort, workerData } from "node:worker_threads"
import type { Exclusions } from "../Sandbox.ts"
import * as fd_ from "./fd.ts"
import { globToRegExp } from "./glob.ts"

export interface SearchRequest {
  readonly root: string
  /** The real path of the search folder when it was verified. */
  readonly folder: string
  /** Its verified descriptor (O_PATH), open in this process. */
  readonly folderFd: number
  readonly pattern: string
  readonly regex?: { readonly source: string; readonly flags: string }
  readonly includeHidden: boolean
  readonly maxReadBytes: number
  readonly limit: number
  /** The router's own state inside the folder, and its files' identities: never searched. */
  readonly exclusions: Exclusions
}

export interface SearchMatch {
  readonly path: string
  readonly line?: number
  readonly text?: string
}

export interface SearchResult {
  readonly matches: ReadonlyArray<SearchMatch>
  readonly truncated: boolean
  readonly skippedFiles: number
}

/** Lines longer than this are not matched: they are minified code or data, and costly to scan. */
const maxLineLength = 10_000
const binarySniffBytes = 8192

const fold = (text: string) => text.normalize("NFC").toLowerCase()

/** Whether `full` is one of the excluded paths or inside one (as Sandbox's atOrInside). */
const excludedPath = (exclusions: Exclusions, full: string) =>
  exclusions.paths.some(({ path: base, foldCase }) => {
    const b = foldCase ? fold(base) : base
    const c = foldCase ? fold(full) : full
    return c === b || c.startsWith(b.endsWith(path.sep) ? b : b + path.sep)
  })

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  return path.isAbsolute(candidate) && (rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel)))
}

export const search = async (request: SearchRequest): Promise<SearchResult> => {
  const glob = globToRegExp(request.pattern)
  const identities = new Set(request.exclusions.identities)
  const byName = !request.pattern.includes("/")
  const regex = request.regex === undefined ? undefined : new RegExp(request.regex.source, request.regex.flags)
  const matches: Array<SearchMatch> = []
  let skippedFiles = 0
  let truncated = false

  /** Opens the entry `name` of the folder open as `dirFd` without following a link; its real path, if inside. */
  const openEntry = async (dirFd: number, name: string, flags: number) => {
    const fd = fd_.openPath(fd_.procChild(dirFd, name), fd_.O_NOFOLLOW | flags)
    let real: string
    try {
      real = fd_.realPathOf(fd)
    } catch (error) {
      // this worker lives on: nothing it opened may outlive the search
      fd_.close(fd)
      throw error
    }
    if (!isInside(request.root, real) || excludedPath(request.exclusions, real)) {
      fd_.close(fd)
      return undefined
    }
    return { fd, real }
  }

  const searchContent = async (dirFd: number, name: string, relative: string) => {
    const entry = await openEntry(dirFd, name, 0)
    if (entry === undefined) return
    let fd: number | undefined
    try {
      const info = fd_.fstat(entry.fd)
      // a symbolic link or anything but a regular file put there since the folder was read is left alone
      if (!info.isFile()) return
      // a hard link to one of the router's files is left out, like the file itself
      if (info.nlink > 1 && identities.has(`${info.dev}:${info.ino}`)) return
      if (info.size > request.maxReadBytes) return void skippedFiles++
      fd = await fd_.open(fd_.procPath(entry.fd), fd_.O_RDONLY | fd_.O_NOCTTY)
      const data = Buffer.allocUnsafe(info.size)
      let size = 0
      while (size < info.size) {
        const bytesRead = await fd_.read(fd, data, size, info.size - size, size)
        if (bytesRead === 0) break
        size += bytesRead
      }
      const content = data.subarray(0, size)
      if (content.subarray(0, binarySniffBytes).includes(0)) return void skippedFiles++
      const lines = content.toString("utf8").split(/\r?\n/)
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!
        if (line.length > maxLineLength || !regex!.test(line)) continue
        if (matches.length >= request.limit) return void (truncated = true)
        matches.push({ path: relative, line: i + 1, text: line.length > 500 ? `${line.slice(0, 500)}...` : line })
      }
    } finally {
      if (fd !== undefined) fd_.close(fd)
      fd_.close(entry.fd)
    }
  }

  const walk = async (dirFd: number, dir: string): Promise<void> => {
    const children = (await fs.readdir(fd_.procPath(dirFd), { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
    for (const child of children) {
      if (truncated) return
      if (!request.includeHidden && child.name.startsWith(".")) continue
      const full = path.join(dir, child.name)
      if (excludedPath(request.exclusions, full)) continue
      if (child.isDirectory()) {
        // a real folder only (a link swapped in is refused by O_NOFOLLOW|O_DIRECTORY), verified inside
        const sub = await openEntry(dirFd, child.name, fd_.O_DIRECTORY).catch(() => undefined)
        if (sub === undefined) continue
        try {
          await walk(sub.fd, sub.real)
        } finally {
          fd_.close(sub.fd)
        }
        continue
      }
      if (!child.isFile()) continue
      if (!glob.test(byName ? child.name : path.relative(request.folder, full))) continue
      const relative = path.relative(request.root, full)
      if (regex === undefined) {
        if (matches.length >= request.limit) return void (truncated = true)
        matches.push({ path: relative })
      } else {
        await searchContent(dirFd, child.name, relative).catch(() => void skippedFiles++)
      }
    }
  }

  await walk(request.folderFd, request.folder)
  return { matches, truncated, skippedFiles }
}

/** What the pool posts to a worker: one search at a time, numbered. */
export interface SearchMessage {
  readonly id: number
  readonly request: SearchRequest
}

/** What a worker answers: the result, or the file system error that ended the search. */
export type SearchReply =
  | { readonly id: number; readonly ok: SearchResult }
  | { readonly id: number; readonly error: { readonly code?: string | undefined; readonly message: string } }

/**
 * Lowers this thread's scheduling priority (its niceness; Linux applies setpriority to one thread when given
 * its id): a search is background work, and on a machine with few cores the main thread, which answers
 * every request, must not wait for a time slice behind it. Not the lowest priority: a search still
 * progresses beside a busy main thread (and tools.timeout bounds it).
 */
const lowerPriority = (by: number) => {
  try {
    // "/proc/thread-self" is a link to "<pid>/task/<tid>"
    const tid = Number(path.basename(readlinkSync("/proc/thread-self")))
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, Math.min(19, getPriority(tid) + by))
  } catch {
    // not Linux, or not allowed: the search runs at the process's priority
  }
}

// a long-lived worker of searchPool.ts: it searches what it is sent, one request after the other
if (parentPort !== null && (workerData as { readonly searchWorker?: boolean } | undefined)?.searchWorker === true) {
  const port = parentPort
  lowerPriority(10)
  port.on("message", ({ id, request }: SearchMessage) => {
    search(request).then(
      (result) => port.postMessage({ id, ok: result } satisfies SearchReply),
      (error: NodeJS.ErrnoException) => port.postMessage({ id, error: { code: error.code, message: error.message } } satisfies SearchReply)
    )
  })
}

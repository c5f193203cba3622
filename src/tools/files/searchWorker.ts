/**
 * The search itself, in a worker thread: a caller's regular expression can backtrack for minutes, and
 * synchronous matching cannot be interrupted, but a worker can be terminated when the call times out.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { parentPort, workerData } from "node:worker_threads"
import type { Exclusions } from "../Sandbox.ts"
import { globToRegExp } from "./glob.ts"

export interface SearchRequest {
  readonly root: string
  readonly folder: string
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

export const search = async (request: SearchRequest): Promise<SearchResult> => {
  const glob = globToRegExp(request.pattern)
  const identities = new Set(request.exclusions.identities)
  const byName = !request.pattern.includes("/")
  const regex = request.regex === undefined ? undefined : new RegExp(request.regex.source, request.regex.flags)
  const matches: Array<SearchMatch> = []
  let skippedFiles = 0
  let truncated = false

  const searchContent = async (full: string, relative: string) => {
    const info = await fs.stat(full)
    // a hard link to one of the router's files is left out, like the file itself
    if (info.nlink > 1 && identities.has(`${info.dev}:${info.ino}`)) return
    if (info.size > request.maxReadBytes) return void skippedFiles++
    const data = await fs.readFile(full)
    if (data.subarray(0, binarySniffBytes).includes(0)) return void skippedFiles++
    const lines = data.toString("utf8").split(/\r?\n/)
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (line.length > maxLineLength || !regex!.test(line)) continue
      if (matches.length >= request.limit) return void (truncated = true)
      matches.push({ path: relative, line: i + 1, text: line.length > 500 ? `${line.slice(0, 500)}...` : line })
    }
  }

  const walk = async (dir: string): Promise<void> => {
    const children = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
    for (const child of children) {
      if (truncated) return
      if (!request.includeHidden && child.name.startsWith(".")) continue
      const full = path.join(dir, child.name)
      if (excludedPath(request.exclusions, full)) continue
      if (child.isDirectory()) {
        await walk(full)
        continue
      }
      if (!child.isFile()) continue
      if (!glob.test(byName ? child.name : path.relative(request.folder, full))) continue
      const relative = path.relative(request.root, full)
      if (regex === undefined) {
        if (matches.length >= request.limit) return void (truncated = true)
        matches.push({ path: relative })
      } else {
        await searchContent(full, relative).catch(() => void skippedFiles++)
      }
    }
  }

  await walk(request.folder)
  return { matches, truncated, skippedFiles }
}

if (parentPort !== null && workerData !== undefined) {
  const port = parentPort
  search(workerData as SearchRequest).then(
    (result) => port.postMessage({ ok: result }),
    (error: NodeJS.ErrnoException) => port.postMessage({ error: { code: error.code, message: error.message } })
  )
}

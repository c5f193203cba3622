/**
 * `git status` computed in-process with isomorphic-git: no git program, no filter, hook, pager or any
 * other program is ever run, and every file read goes through a read-only file system confined to the
 * working directory (confinedFs.ts). The result has the fields `git status --porcelain=v2 --branch` gives.
 *
 * How it matches git, and where it does not:
 * - staged = HEAD against the index, unstaged = the index against the work tree, compared by object id
 *   and mode (the executable bit only when core.fileMode is on); a file hashed from the work tree is hashed
 *   as it is (no clean filter, core.autocrlf honoured by isomorphic-git);
 * - renames are found among staged changes when the content is identical (git also pairs similar files);
 * - an untracked folder without tracked files is reported once as `folder/`, like git; ignored files
 *   (.gitignore, .git/info/exclude) are left out; core.excludesFile is not read;
 * - submodules (gitlinks) are not entered and not reported;
 * - ahead/behind are counted over at most `maxCommits` commits.
 */
import * as git from "isomorphic-git"
import * as path from "node:path"
import { allValues, isFalse, lastValue } from "./gitConfig.ts"
import { gitlinkMode, parseIndex } from "./gitIndex.ts"
import { confinedReadOnlyFs } from "./confinedFs.ts"
import type { FileChange, GitStatus } from "./porcelain.ts"
import type { GitRepository } from "./repository.ts"

export class StatusFailure extends Error {}
/** More entries than `maxEntries`: the result would be too large to return. */
export class StatusTooLarge extends StatusFailure {}

export interface StatusOptions {
  readonly root: string
  readonly repo: GitRepository
  readonly signal?: AbortSignal | undefined
  /** Largest file (work tree file, pack, index) read, in bytes. */
  readonly maxFileBytes: number
  /** Most commits walked to count ahead/behind. */
  readonly maxCommits: number
  /** Most entries reported (staged + unstaged + untracked + conflicted); past it the call fails. */
  readonly maxEntries: number
}

interface Side {
  readonly oid: string
  readonly mode: number
}

const byPath = (a: { readonly path: string }, b: { readonly path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)

/** A ref's short name, as git status prints an upstream. */
const shorten = (ref: string) => ref.replace(/^refs\/(heads|remotes|tags)\//, "")

/** The remote-tracking ref `merge` maps to through `remote`'s fetch refspecs (`+refs/heads/*:refs/remotes/o/*`). */
const trackingRef = (specs: ReadonlyArray<string>, merge: string): string | undefined => {
  for (const raw of specs) {
    const spec = raw.replace(/^\+/, "")
    const [src, dst] = spec.split(":")
    if (src === undefined || dst === undefined || src.startsWith("^")) continue
    const star = src.indexOf("*")
    if (star < 0) {
      if (src === merge) return dst
      continue
    }
    const prefix = src.slice(0, star)
    const suffix = src.slice(star + 1)
    if (merge.startsWith(prefix) && merge.endsWith(suffix) && merge.length >= prefix.length + suffix.length) {
      return dst.replace("*", merge.slice(prefix.length, merge.length - suffix.length))
    }
  }
  return undefined
}

const isNotFound = (error: unknown) => {
  const e = error as { code?: string; name?: string }
  return e?.code === "NotFoundError" || e?.name === "NotFoundError" || e?.code === "ENOENT"
}

export const readGitStatus = async (options: StatusOptions): Promise<GitStatus> => {
  const { root, repo } = options
  const worktree = repo.worktree
  if (worktree === undefined) throw new StatusFailure(`${path.relative(root, repo.gitdir) || "."} has no work tree to report on (a bare repository, or the inside of a .git folder)`)
  if (repo.commondir !== repo.gitdir) throw new StatusFailure("linked worktrees (a gitdir with commondir) are not supported by git_status; use execute_command git status")
  if (repo.hashBytes !== 20) throw new StatusFailure("SHA-256 repositories are not supported by git_status; use execute_command git status")
  const refStorage = lastValue(repo.config, "extensions", undefined, "refstorage")
  if (refStorage !== undefined && refStorage.toLowerCase() !== "files") {
    throw new StatusFailure(`repositories with extensions.refStorage=${refStorage} are not supported by git_status; use execute_command git status`)
  }

  const confined = confinedReadOnlyFs(root, { maxFileBytes: options.maxFileBytes, signal: options.signal })
  const fs = confined.client
  const ops = confined.ops
  const gitdir = repo.gitdir
  const cache = {}
  const checked = async <A>(run: () => Promise<A>): Promise<A> => {
    try {
      return await run()
    } finally {
      const problem = confined.problem()
      if (problem !== undefined) throw new StatusFailure(problem)
      if (options.signal?.aborted) throw new StatusFailure("git_status was stopped")
    }
  }

  return checked(async () => {
    // HEAD: a branch (possibly without commits yet) or a detached commit
    const headText = String(await ops.readFile(path.join(gitdir, "HEAD"), "utf8")).trim()
    const symbolic = /^ref:\s*(\S+)$/.exec(headText)?.[1]
    const branch = symbolic === undefined ? null : symbolic.replace(/^refs\/heads\//, "")
    const detached = symbolic === undefined
    const commit = await git.resolveRef({ fs, gitdir, ref: "HEAD" }).catch((error: unknown) => {
      if (isNotFound(error)) return null
      throw error
    })

    // upstream and ahead/behind
    let upstream: string | null = null
    let ahead = 0
    let behind = 0
    if (branch !== null && symbolic?.startsWith("refs/heads/")) {
      const remote = lastValue(repo.config, "branch", branch, "remote")
      const merge = lastValue(repo.config, "branch", branch, "merge")
      if (remote !== undefined && merge !== undefined) {
        const tracking = remote === "." ? merge : trackingRef(allValues(repo.config, "remote", remote, "fetch"), merge)
        if (tracking !== undefined) {
          upstream = shorten(tracking)
          const upstreamCommit = await git.resolveRef({ fs, gitdir, ref: tracking }).catch(() => null)
          if (upstreamCommit !== null && commit !== null) {
            ;[ahead, behind] = await aheadBehind(fs, gitdir, cache, commit, upstreamCommit, options.maxCommits)
          }
        }
      }
    }

    // the index: conflicted paths and the folders that hold tracked files
    const indexData = await ops.readFile(path.join(gitdir, "index")).catch((error: unknown) => {
      if (isNotFound(error)) return undefined
      throw error
    })
    let entries: ReturnType<typeof parseIndex> = []
    try {
      entries = indexData === undefined ? [] : parseIndex(indexData as Buffer, repo.hashBytes)
    } catch (error) {
      throw new StatusFailure(`the index of ${path.relative(root, gitdir) || "."} could not be read: ${(error as Error).message}`)
    }
    const conflictedSet = new Set(entries.filter((e) => e.stage > 0).map((e) => e.path))
    const trackedDirs = new Set<string>()
    for (const entry of entries) {
      const parts = entry.path.split("/")
      for (let i = 1; i < parts.length; i++) trackedDirs.add(parts.slice(0, i).join("/"))
    }
    const gitlinks = new Set(entries.filter((e) => e.mode === gitlinkMode).map((e) => e.path))
    const fileMode = !isFalse(lastValue(repo.config, "core", undefined, "filemode") ?? "true")

    const rows: Array<{ path: string; head: Side | undefined; stage: Side | undefined; work: Side | undefined }> = []
    const untrackedRaw: Array<string> = []
    let reported = 0
    const count = () => {
      if (++reported > options.maxEntries) throw new StatusTooLarge(`git status has more than ${options.maxEntries} changed or untracked entries`)
    }
    const ignored = (filepath: string) => git.isIgnored({ fs, dir: worktree, gitdir, filepath })

    /** Whether an untracked folder holds anything git would list (a file that is not ignored, a nested repository). */
    const hasUntrackedContent = async (folder: string, budget = { left: 10_000 }): Promise<boolean> => {
      const names = (await ops.readdir(path.join(worktree, folder)).catch(() => [])) as Array<string>
      for (const name of names.sort()) {
        if (--budget.left < 0) return true
        if (name === ".git") return true
        const child = `${folder}/${name}`
        if (await ignored(child)) continue
        const stat = await ops.lstat(path.join(worktree, child)).catch(() => undefined)
        if (stat === undefined) continue
        if (stat.isDirectory()) {
          if (await hasUntrackedContent(child, budget)) return true
        } else if (stat.isFile() || stat.isSymbolicLink()) {
          return true
        }
      }
      return false
    }

    const trees = commit === null
      ? [git.WORKDIR({ refresh: false }), git.STAGE()]
      : [git.TREE({ ref: commit }), git.WORKDIR({ refresh: false }), git.STAGE()]
    await git.walk({
      fs,
      dir: worktree,
      gitdir,
      cache,
      trees,
      // one folder entry at a time: bounded work and open files on big trees
      iterate: async (walk, children) => {
        const results = []
        for (const child of children) results.push(await walk(child))
        return results
      },
      reduce: async () => undefined,
      map: async (filepath, walked) => {
        if (options.signal?.aborted) return null
        const [head, work, stage] = commit === null ? [null, walked[0] ?? null, walked[1] ?? null] : [walked[0] ?? null, walked[1] ?? null, walked[2] ?? null]
        if (filepath === ".") return true
        if (path.posix.basename(filepath) === ".git") return null
        if (gitlinks.has(filepath)) return null
        if (conflictedSet.has(filepath)) return true
        if (!head && !stage && work && (await ignored(filepath))) return null
        const [headType, workType, stageType] = await Promise.all([head?.type(), work?.type(), stage?.type()])
        if (headType === "commit" || stageType === "commit") return null
        const blob = headType === "blob" || workType === "blob" || stageType === "blob"
        if (!blob) {
          if (workType === "tree" && !head && !stage) {
            // a folder with nothing tracked in it: git lists it once, as folder/
            if (await hasUntrackedContent(filepath)) {
              count()
              untrackedRaw.push(`${filepath}/`)
            }
            return null
          }
          return true
        }
        const side = async (entry: typeof head, type: string | undefined): Promise<Side | undefined> =>
          entry && type === "blob" ? { oid: (await entry.oid())!, mode: (await entry.mode())! } : undefined
        const headSide = await side(head, headType)
        const stageSide = await side(stage, stageType)
        if (headSide === undefined && stageSide === undefined) {
          if (workType === "blob") {
            count()
            untrackedRaw.push(filepath)
          }
          return true
        }
        const workSide = await side(work, workType)
        rows.push({ path: filepath, head: headSide, stage: stageSide, work: workSide })
        // a folder where the index has a file: git neither enters nor lists it
        return workType === "tree" && stageSide !== undefined ? null : true
      }
    })

    const compare = (a: Side | undefined, b: Side | undefined): string | undefined => {
      if (a === undefined && b === undefined) return undefined
      if (a === undefined) return "added"
      if (b === undefined) return "deleted"
      if (a.mode >> 12 !== b.mode >> 12) return "type-changed"
      if (a.oid !== b.oid || (fileMode && a.mode !== b.mode)) return "modified"
      return undefined
    }
    const staged: Array<FileChange> = []
    const unstaged: Array<FileChange> = []
    const oidsOfDeleted = new Map<string, Array<string>>()
    for (const row of rows) {
      const stagedChange = compare(row.head, row.stage)
      if (stagedChange !== undefined) {
        count()
        staged.push({ path: row.path, change: stagedChange })
        if (stagedChange === "deleted") oidsOfDeleted.set(row.head!.oid, [...(oidsOfDeleted.get(row.head!.oid) ?? []), row.path])
      }
      if (row.stage === undefined) {
        // tracked in HEAD, removed from the index, still in the work tree: untracked again
        if (row.work !== undefined) {
          count()
          untrackedRaw.push(row.path)
        }
        continue
      }
      const unstagedChange = compare(row.stage, row.work)
      if (unstagedChange !== undefined) {
        count()
        unstaged.push({ path: row.path, change: unstagedChange })
      }
    }
    // exact renames: a staged deletion and a staged addition of the same content
    const renamedFrom = new Map<string, string>()
    const stageOid = new Map(rows.map((r) => [r.path, r.stage?.oid]))
    for (const change of [...staged].sort(byPath)) {
      if (change.change !== "added") continue
      const candidates = oidsOfDeleted.get(stageOid.get(change.path) ?? "")
      const from = candidates?.shift()
      if (from !== undefined) renamedFrom.set(change.path, from)
    }
    const renamedAway = new Set(renamedFrom.values())
    const withRenames = (list: ReadonlyArray<FileChange>, isStaged: boolean) =>
      list
        .filter((c) => !(isStaged && c.change === "deleted" && renamedAway.has(c.path)))
        .map((c) => {
          const from = renamedFrom.get(c.path)
          if (from === undefined) return c
          return isStaged && c.change === "added" ? { path: c.path, change: "renamed", from } : { ...c, from }
        })
        .sort(byPath)

    // untracked paths inside folders with nothing tracked collapse to the outermost such folder
    const collapse = (p: string) => {
      const parts = p.replace(/\/$/, "").split("/")
      for (let i = 1; i < parts.length; i++) {
        const folder = parts.slice(0, i).join("/")
        if (!trackedDirs.has(folder)) return `${folder}/`
      }
      return p
    }
    const untracked = [...new Set(untrackedRaw.map(collapse))].sort()
    return {
      branch,
      detached,
      commit,
      upstream,
      ahead,
      behind,
      staged: withRenames(staged, true),
      unstaged: withRenames(unstaged, false),
      untracked,
      conflicted: [...conflictedSet].sort()
    }
  })
}

/** A binary heap; `before(a, b)` puts a nearer the top. */
class Heap<T> {
  private readonly items: Array<T> = []
  private readonly before: (a: T, b: T) => boolean
  constructor(before: (a: T, b: T) => boolean) {
    this.before = before
  }
  get size() {
    return this.items.length
  }
  peek(): T | undefined {
    return this.items[0]
  }
  push(item: T) {
    const items = this.items
    items.push(item)
    for (let i = items.length - 1; i > 0;) {
      const up = (i - 1) >> 1
      if (!this.before(items[i]!, items[up]!)) break
      ;[items[i], items[up]] = [items[up]!, items[i]!]
      i = up
    }
  }
  pop(): T | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (items.length > 0 && last !== undefined) {
      items[0] = last
      for (let i = 0;;) {
        const l = 2 * i + 1
        const r = l + 1
        let best = i
        if (l < items.length && this.before(items[l]!, items[best]!)) best = l
        if (r < items.length && this.before(items[r]!, items[best]!)) best = r
        if (best === i) break
        ;[items[i], items[best]] = [items[best]!, items[i]!]
        i = best
      }
    }
    return top
  }
}

/**
 * Commits reachable from `left` only and from `right` only. Both ends are walked newest first, each commit
 * painted with the ends it is reachable from; the walk stops when every commit still queued is reachable
 * from both and is older than every commit painted with one end only (so none of those can be its
 * ancestor). Commits dated in the same second are walked through, not guessed; only a parent dated after
 * its child (clock skew) can miscount, as in git.
 */
const aheadBehind = async (
  fs: git.PromiseFsClient,
  gitdir: string,
  cache: object,
  left: string,
  right: string,
  maxCommits: number
): Promise<[number, number]> => {
  if (left === right) return [0, 0]
  const LEFT = 1
  const RIGHT = 2
  const both = LEFT | RIGHT
  const flags = new Map<string, number>()
  const times = new Map<string, number>()
  const parentsOf = new Map<string, ReadonlyArray<string>>()
  const load = async (oid: string) => {
    if (parentsOf.has(oid)) return
    if (parentsOf.size >= maxCommits) {
      throw new StatusFailure(`counting ahead/behind would walk more than ${maxCommits} commits`)
    }
    try {
      const { commit } = await git.readCommit({ fs, gitdir, oid, cache })
      parentsOf.set(oid, commit.parent)
      times.set(oid, commit.committer.timestamp)
    } catch (error) {
      // a shallow clone's boundary: the commit is missing, count it without parents
      if (!isNotFound(error)) throw error
      parentsOf.set(oid, [])
      times.set(oid, Number.NEGATIVE_INFINITY)
    }
  }
  const time = (oid: string) => times.get(oid) ?? Number.NEGATIVE_INFINITY
  const queue = new Heap<string>((a, b) => time(a) > time(b))
  const queued = new Set<string>()
  const singles = new Heap<string>((a, b) => time(a) < time(b))
  // queued commits not yet reachable from both ends
  let pending = 0
  const paint = async (oid: string, flag: number) => {
    const before = flags.get(oid) ?? 0
    const after = before | flag
    if (after === before) return
    await load(oid)
    flags.set(oid, after)
    if (before === 0) singles.push(oid)
    if (queued.has(oid)) {
      if (after === both) pending--
    } else {
      queued.add(oid)
      queue.push(oid)
      if (after !== both) pending++
    }
  }
  await paint(left, LEFT)
  await paint(right, RIGHT)
  for (;;) {
    const next = queue.peek()
    if (next === undefined) break
    if (pending === 0) {
      while (singles.size > 0 && flags.get(singles.peek()!) === both) singles.pop()
      const oldestSingle = singles.peek()
      if (oldestSingle === undefined || time(next) < time(oldestSingle)) break
    }
    queue.pop()
    queued.delete(next)
    const flag = flags.get(next)!
    if (flag !== both) pending--
    for (const parent of parentsOf.get(next) ?? []) await paint(parent, flag)
  }
  let ahead = 0
  let behind = 0
  for (const flag of flags.values()) {
    if (flag === LEFT) ahead++
    else if (flag === RIGHT) behind++
  }
  return [ahead, behind]
}

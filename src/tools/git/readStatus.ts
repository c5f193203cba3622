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
import ignoreModule, { type Ignore } from "ignore"
import type * as IsomorphicGit from "isomorphic-git"
import { createHash } from "node:crypto"
import * as path from "node:path"
import { allValues, isFalse, lastValue } from "./gitConfig.ts"
import { gitlinkMode, type IndexEntry, parseIndex } from "./gitIndex.ts"
import { confinedReadOnlyFs } from "./confinedFs.ts"
import type { FileChange, GitStatus } from "./porcelain.ts"
import type { GitRepository } from "./repository.ts"

// "ignore" is CommonJS: its function is the module itself (and its own `default`)
const ignore = (ignoreModule as unknown as { readonly default: () => Ignore }).default

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

/** `fn` over `items`, at most `limit` at a time, results in order. */
const mapLimit = async <A, B>(items: ReadonlyArray<A>, limit: number, fn: (item: A) => Promise<B>): Promise<Array<B>> => {
  const results: Array<B> = new Array(items.length)
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      results[i] = await fn(items[i]!)
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  return results
}

/** File system calls in flight at once: enough to hide latency, few enough to stay far from open-file limits. */
const parallelism = 32

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

/** isomorphic-git, loaded at the first git_status: a router that never runs one does not hold it. */
let loaded: Promise<typeof IsomorphicGit> | undefined
const loadGit = () => (loaded ??= import("isomorphic-git"))

export const readGitStatus = async (options: StatusOptions): Promise<GitStatus> => {
  const git = await loadGit()
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
            ;[ahead, behind] = await aheadBehind(git, fs, gitdir, cache, commit, upstreamCommit, options.maxCommits)
          }
        }
      }
    }

    const config = repo.config
    const fileMode = !isFalse(lastValue(config, "core", undefined, "filemode") ?? "true")
    const trustCtime = !isFalse(lastValue(config, "core", undefined, "trustctime") ?? "true")
    const minimalStat = lastValue(config, "core", undefined, "checkstat")?.toLowerCase() === "minimal"
    const autocrlf = lastValue(config, "core", undefined, "autocrlf")?.toLowerCase()
    const convertCrlf = autocrlf === "input" || (autocrlf !== undefined && !isFalse(autocrlf) && autocrlf !== "false")

    // HEAD's files, flattened
    const headFiles = new Map<string, Side>()
    const headGitlinks = new Set<string>()
    if (commit !== null) {
      const { commit: headCommit } = await git.readCommit({ fs, gitdir, oid: commit, cache })
      // one level of trees at a time, each level read in parallel
      let level: Array<{ oid: string; prefix: string }> = [{ oid: headCommit.tree, prefix: "" }]
      while (level.length > 0) {
        if (options.signal?.aborted) throw new StatusFailure("git_status was stopped")
        const trees = await mapLimit(level, parallelism, async ({ oid, prefix }) => ({ prefix, tree: (await git.readTree({ fs, gitdir, oid, cache })).tree }))
        level = []
        for (const { prefix, tree } of trees) {
          for (const entry of tree) {
            const full = prefix === "" ? entry.path : `${prefix}/${entry.path}`
            if (entry.type === "tree") level.push({ oid: entry.oid, prefix: full })
            else if (entry.type === "commit") headGitlinks.add(full)
            else headFiles.set(full, { oid: entry.oid, mode: Number.parseInt(entry.mode, 8) })
          }
        }
      }
    }

    // the index: staged entries, conflicted paths, the folders that hold tracked files
    const indexFile = path.join(gitdir, "index")
    const indexData = await ops.readFile(indexFile).catch((error: unknown) => {
      if (isNotFound(error)) return undefined
      throw error
    })
    let entries: ReadonlyArray<IndexEntry> = []
    try {
      entries = indexData === undefined ? [] : parseIndex(indexData as Buffer, repo.hashBytes)
    } catch (error) {
      throw new StatusFailure(`the index of ${path.relative(root, gitdir) || "."} could not be read: ${(error as Error).message}`)
    }
    // git's "racy" rule: a file changed in the second the index was written may look unchanged by its stat
    const indexSeconds = indexData === undefined ? 0 : Math.floor(Number((await ops.lstatInFolder(indexFile)).mtimeMs) / 1000)
    const conflictedSet = new Set(entries.filter((e) => e.stage > 0).map((e) => e.path))
    const staged0 = new Map(entries.filter((e) => e.stage === 0).map((e) => [e.path, e]))
    const indexPaths = new Set(entries.map((e) => e.path))
    const trackedDirs = new Set<string>()
    for (const entry of entries) {
      const parts = entry.path.split("/")
      for (let i = 1; i < parts.length; i++) trackedDirs.add(parts.slice(0, i).join("/"))
    }

    let reported = 0
    const count = () => {
      if (++reported > options.maxEntries) throw new StatusTooLarge(`git status has more than ${options.maxEntries} changed or untracked entries`)
    }
    const compare = (a: Side | undefined, b: Side | undefined): string | undefined => {
      if (a === undefined && b === undefined) return undefined
      if (a === undefined) return "added"
      if (b === undefined) return "deleted"
      if (a.mode >> 12 !== b.mode >> 12) return "type-changed"
      if (a.oid !== b.oid || (fileMode && a.mode !== b.mode)) return "modified"
      return undefined
    }

    // staged: HEAD against the index
    const staged: Array<FileChange> = []
    const oidsOfDeleted = new Map<string, Array<string>>()
    for (const file of [...new Set([...headFiles.keys(), ...staged0.keys()])].sort()) {
      if (conflictedSet.has(file) || headGitlinks.has(file)) continue
      const entry = staged0.get(file)
      if (entry !== undefined && entry.mode === gitlinkMode) continue
      const head = headFiles.get(file)
      const change = compare(head, entry === undefined || entry.intentToAdd ? undefined : { oid: entry.oid, mode: entry.mode })
      if (change === undefined) continue
      count()
      staged.push({ path: file, change })
      if (change === "deleted") oidsOfDeleted.set(head!.oid, [...(oidsOfDeleted.get(head!.oid) ?? []), file])
    }

    // unstaged: the index against the work tree, by stat data first and content when stat cannot tell
    const hashOf = (content: Buffer) => createHash(repo.hashBytes === 32 ? "sha256" : "sha1").update(`blob ${content.length}\0`).update(content).digest("hex")
    const emptyBlob = hashOf(Buffer.alloc(0))
    const u32 = (value: bigint) => Number(BigInt.asUintN(32, value))
    const workSide = async (entry: IndexEntry): Promise<Side | undefined> => {
      const file = path.join(worktree, entry.path)
      const stat = await ops.lstatInFolder(file).catch(() => undefined)
      if (stat === undefined || (!stat.isFile() && !stat.isSymbolicLink())) return undefined
      if (entry.assumeValid || entry.skipWorktree) return { oid: entry.oid, mode: entry.mode }
      const link = stat.isSymbolicLink()
      const executable = (Number(stat.mode) & 0o100) !== 0
      const mode = link ? 0o120000 : !fileMode && entry.mode >> 12 === 0o10 ? entry.mode : executable ? 0o100755 : 0o100644
      if (mode >> 12 !== entry.mode >> 12) return { oid: "", mode }
      const seconds = (ns: bigint) => u32(ns / 1_000_000_000n)
      const statSame = entry.mtimeSeconds === seconds(stat.mtimeNs) &&
        (!trustCtime || entry.ctimeSeconds === seconds(stat.ctimeNs)) &&
        entry.size === u32(stat.size) &&
        (minimalStat || (entry.ino === u32(stat.ino) && entry.uid === u32(stat.uid) && entry.gid === u32(stat.gid)))
      const racy = indexSeconds <= entry.mtimeSeconds || (entry.size === 0 && entry.oid !== emptyBlob)
      if (statSame && !racy) return { oid: entry.oid, mode }
      let content: Buffer
      try {
        content = link ? Buffer.from(await ops.readlink(file)) : await ops.readOwnFile(file)
      } catch (error) {
        if (isNotFound(error)) return undefined
        throw error
      }
      if (!link && convertCrlf && !content.subarray(0, 8000).includes(0) && content.includes("\r\n")) {
        content = Buffer.from(content.toString("latin1").replaceAll("\r\n", "\n"), "latin1")
      }
      return { oid: hashOf(content), mode }
    }
    const unstaged: Array<FileChange> = []
    const tracked = [...staged0.values()].filter((e) => e.mode !== gitlinkMode && !conflictedSet.has(e.path))
    const changes = await mapLimit(tracked, parallelism, async (entry) => {
      if (options.signal?.aborted) throw new StatusFailure("git_status was stopped")
      const work = await workSide(entry)
      return entry.intentToAdd ? (work === undefined ? "deleted" : "added") : compare({ oid: entry.oid, mode: entry.mode }, work)
    })
    for (const [i, change] of changes.entries()) {
      if (change === undefined) continue
      count()
      unstaged.push({ path: tracked[i]!.path, change })
    }

    // untracked: the work tree's folders that hold tracked files, walked; anything else not ignored is listed,
    // a folder with nothing tracked in it once, as folder/
    const exclude = await ops.readFile(path.join(gitdir, "info", "exclude"), "utf8").catch(() => "")
    const rules = new Map<string, Promise<Ignore>>()
    const rulesFor = (folder: string) => {
      let found = rules.get(folder)
      if (found === undefined) {
        found = (async () => {
          const own = await ops.readOwnFile(path.join(worktree, folder, ".gitignore")).then((b) => b.toString("utf8"), () => "")
          // info/exclude first: a .gitignore pattern after it wins
          return ignore().add(folder === "" ? String(exclude) : "").add(own)
        })()
        rules.set(folder, found)
      }
      return found
    }
    const ignored = async (relative: string, folder: boolean) => {
      const parts = relative.split("/")
      let result = false
      for (let i = 0; i < parts.length; i++) {
        const rule = await rulesFor(parts.slice(0, i).join("/"))
        try {
          const outcome = rule.test(parts.slice(i).join("/") + (folder ? "/" : ""))
          if (outcome.ignored) result = true
          else if (outcome.unignored) result = false
        } catch {
          // a name the pattern library cannot take (only dots): not ignored
        }
      }
      return result
    }
    const listing = (relative: string) => ops.readdirTypes(relative === "" ? worktree : path.join(worktree, relative)).catch(() => [])
    /** Whether an untracked folder holds anything git would list: a file not ignored, a nested repository. */
    const hasUntrackedContent = async (folder: string, budget = { left: 10_000 }): Promise<boolean> => {
      for (const child of await listing(folder)) {
        if (--budget.left < 0) return true
        if (child.name === ".git") return true
        const relative = `${folder}/${child.name}`
        if (await ignored(relative, child.isDirectory)) continue
        if (!child.isDirectory || (await hasUntrackedContent(relative, budget))) return true
      }
      return false
    }
    const untracked: Array<string> = []
    const walk = async (folder: string): Promise<void> => {
      if (options.signal?.aborted) throw new StatusFailure("git_status was stopped")
      const children = [...(await listing(folder))].sort((a, b) => (a.name < b.name ? -1 : 1))
      for (const child of children) {
        if (child.name === ".git") continue
        const relative = folder === "" ? child.name : `${folder}/${child.name}`
        // tracked (a folder where the index has a file, too: git neither enters nor lists it)
        if (indexPaths.has(relative)) continue
        if (child.isDirectory && trackedDirs.has(relative)) {
          await walk(relative)
          continue
        }
        if (await ignored(relative, child.isDirectory)) continue
        if (child.isDirectory && !(await hasUntrackedContent(relative))) continue
        count()
        untracked.push(child.isDirectory ? `${relative}/` : relative)
      }
    }
    await walk("")

    // exact renames: a staged deletion and a staged addition of the same content
    const renamedFrom = new Map<string, string>()
    for (const change of staged) {
      if (change.change !== "added") continue
      const from = oidsOfDeleted.get(staged0.get(change.path)?.oid ?? "")?.shift()
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

    return {
      branch,
      detached,
      commit,
      upstream,
      ahead,
      behind,
      staged: withRenames(staged, true),
      unstaged: withRenames(unstaged, false),
      untracked: untracked.sort(),
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
  git: typeof IsomorphicGit,
  fs: IsomorphicGit.PromiseFsClient,
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

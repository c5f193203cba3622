/**
 * No tool writes a repository's internals, under any name: a git directory's configuration, hooks,
 * alternates and `commondir` decide which programs git runs and where it reads, and a model that could
 * write them could make any later git command run anything.
 *
 * A folder is a git directory here when it is named `.git` (any case) or holds `HEAD` together with
 * `objects`, `refs`, `commondir` or `config` (git itself needs HEAD, objects/ and refs/; this is looser).
 * A write is refused when:
 * - any folder from the working directory down to the target's is a git directory (bare or not);
 * - the target is named `.git` (a `.git` file's `gitdir:` makes any folder the repository);
 * - the target is `HEAD`, `config`, `commondir`, `config.worktree` or `gitdir` in a folder that already
 *   holds one of HEAD, objects, refs, commondir, config (the write would complete a git directory).
 * A repository cannot be assembled one file at a time either: HEAD goes only into a folder without any
 * of those, and once HEAD is there config never follows and only one of objects/ or refs/ can.
 *
 * Concurrent writes could each pass the check before any of them lands, so every write that could shape a
 * repository (one of those names anywhere in its path) takes `repositoryWriteLock` around check and write.
 */
import * as Semaphore from "effect/Semaphore"
import * as fs from "node:fs/promises"
import * as path from "node:path"

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

const exists = (p: string) => fs.lstat(p).then(() => true, () => false)

/** Names whose presence next to HEAD make a folder (part of) a git directory. */
const markers = ["HEAD", "objects", "refs", "commondir", "config"]
/** Files that complete a git directory when written beside one of the markers. */
const completing = new Set(["head", "config", "commondir", "config.worktree", "gitdir"])
/** Path components that mark a write as one that could shape a repository (taken case-insensitively). */
const shaping = new Set([".git", "head", "objects", "refs", "hooks", "info", "config", "commondir", "config.worktree", "gitdir"])

/** Whether `dir` is (or looks like) a git directory. */
export const looksLikeGitDirectory = async (dir: string): Promise<boolean> => {
  if (path.basename(dir).toLowerCase() === ".git") return true
  if (!(await exists(path.join(dir, "HEAD")))) return false
  for (const marker of ["objects", "refs", "commondir", "config"]) {
    if (await exists(path.join(dir, marker))) return true
  }
  return false
}

/**
 * Why writing the file `target` (an absolute path inside `root`, its existing part with links resolved)
 * is refused as a write to a repository's internals, or undefined.
 */
export const repositoryInternalsRefusal = async (root: string, target: string): Promise<string | undefined> => {
  const shown = (p: string) => path.relative(root, p) || "."
  const name = path.basename(target)
  if (name.toLowerCase() === ".git") {
    return "a file or folder named .git makes its folder a repository, whose configuration can run programs"
  }
  for (let dir = path.dirname(target); isInside(root, dir); dir = path.dirname(dir)) {
    if (await looksLikeGitDirectory(dir)) {
      return `it is inside ${shown(dir)}, a git directory (a repository's internals: its configuration and hooks decide which programs git runs)`
    }
    if (dir === root) break
  }
  if (completing.has(name.toLowerCase())) {
    const folder = path.dirname(target)
    for (const marker of markers) {
      if (marker.toLowerCase() === name.toLowerCase()) continue
      if (await exists(path.join(folder, marker))) {
        return `it would make ${shown(folder)} a git directory (it already holds ${marker}); a repository's configuration can run programs`
      }
    }
  }
  return undefined
}

/** Whether writing `relative` (a path inside the working directory) could help shape a repository. */
export const shapesRepository = (relative: string): boolean =>
  relative.split(/[\\/]/).some((name) => shaping.has(name.toLowerCase()))

/** Held around the check and the write of every write that could shape a repository. */
export const repositoryWriteLock = Semaphore.makeUnsafe(1)

/**
 * Finding and inspecting the git repositories a command would use, without running git.
 *
 * git finds its repository from the folder it runs in: in each folder from there up (never above the
 * working directory: GIT_CEILING_DIRECTORIES), a `.git` folder, a `.git` file (`gitdir: <path>`) or the
 * folder itself when it is a git directory (a bare repository, under any name). A git directory may point
 * further: `commondir` (linked worktrees), `core.worktree`, `objects/info/alternates`, and its index may
 * hold submodules (gitlinks) whose own repositories git enters.
 *
 * Everything here is decided on real paths (symbolic links resolved) against the real working directory.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { type ConfigEntry, ConfigSyntaxError, isFalse, lastValue, parseGitConfig } from "./gitConfig.ts"
import { gitlinkMode, parseIndex } from "./gitIndex.ts"

/** A repository refused or unreadable: the message says which file and why. */
export class RepositoryRefused extends Error {}

export interface GitRepository {
  /** Real path of the git directory (`.git`, a `gitdir:` target, or a bare repository). */
  readonly gitdir: string
  /** Real path of the common directory (differs from gitdir in a linked worktree). */
  readonly commondir: string
  /** Real path of the work tree; undefined for a bare repository. */
  readonly worktree: string | undefined
  /** The configuration git reads for it: common config, then config.worktree. */
  readonly config: ReadonlyArray<ConfigEntry>
  /** The configuration files read, for messages. */
  readonly configFiles: ReadonlyArray<string>
  /** Object id length in bytes: 20 (SHA-1) or 32 (SHA-256). */
  readonly hashBytes: number
}

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

/** How a path is named in messages: relative to the working directory when inside it. */
export const shown = (root: string, p: string) => (isInside(root, p) ? path.relative(root, p) || "." : p)

const statOf = (p: string) => fs.stat(p).catch(() => undefined)
const lstatOf = (p: string) => fs.lstat(p).catch(() => undefined)
const readText = (p: string) => fs.readFile(p, "utf8").catch(() => undefined)

/** The real path of `p` as far as it exists, with the missing rest attached. */
const realAsFarAsExists = async (p: string): Promise<string> => {
  const rest: Array<string> = []
  for (let existing = path.resolve(p);;) {
    try {
      return path.join(await fs.realpath(existing), ...rest)
    } catch {
      const parent = path.dirname(existing)
      if (parent === existing) return p
      rest.unshift(path.basename(existing))
      existing = parent
    }
  }
}

const insideOrRefuse = async (root: string, p: string, what: string) => {
  const real = await realAsFarAsExists(p)
  if (!isInside(root, real)) {
    throw new RepositoryRefused(`${what} ${real === path.resolve(p) ? real : `${p} (really ${real})`} is outside the working directory ${root}`)
  }
  return real
}

const isDir = async (p: string) => (await statOf(p))?.isDirectory() === true

/** git's validate_headref: a symbolic link or `ref: refs/...` or an object id. */
const validHead = async (gitdir: string) => {
  const head = path.join(gitdir, "HEAD")
  const l = await lstatOf(head)
  if (l === undefined) return false
  if (l.isSymbolicLink()) return (await fs.readlink(head).catch(() => "")).startsWith("refs/")
  const text = (await readText(head)) ?? ""
  return /^ref:\s*refs\//.test(text) || /^[0-9a-f]{40}([0-9a-f]{24})?\s*$/.test(text)
}

/**
 * git's is_git_directory: HEAD, objects/ and refs/ (the last two possibly through `commondir`).
 * `loose` skips HEAD's content: for inspection a folder that merely looks like a repository counts.
 */
export const isGitDirectory = async (dir: string, loose = false): Promise<boolean> => {
  if (!(await isDir(dir))) return false
  if ((await lstatOf(path.join(dir, "HEAD"))) === undefined) return false
  const common = (await readText(path.join(dir, "commondir")))?.trim()
  const base = common === undefined || common === "" ? dir : path.resolve(dir, common)
  if (!(await isDir(path.join(base, "objects"))) || !(await isDir(path.join(base, "refs")))) return false
  return loose || (await validHead(dir))
}

/** The target of a `.git` file (`gitdir: <path>`, relative to the file's folder). */
const gitfileTarget = async (file: string): Promise<string> => {
  const text = (await readText(file)) ?? ""
  const match = /^gitdir: (.+?)\s*$/.exec(text.split("\n")[0] ?? "")
  if (match === null) throw new RepositoryRefused(`${file} is a .git file without a "gitdir:" line`)
  return path.resolve(path.dirname(file), match[1]!)
}

const readConfigFile = async (root: string, file: string): Promise<ReadonlyArray<ConfigEntry> | undefined> => {
  const text = await readText(file)
  if (text === undefined) return undefined
  try {
    return parseGitConfig(text)
  } catch (error) {
    if (error instanceof ConfigSyntaxError) throw new RepositoryRefused(`${shown(root, file)} is not a valid git configuration (${error.message})`)
    throw error
  }
}

/**
 * Opens the git directory at `candidate` (for a repository whose `.git` was found in `top`, when not bare).
 * Refuses a git directory, common directory or work tree outside the working directory.
 */
export const openRepository = async (root: string, candidate: string, top: string | undefined): Promise<GitRepository> => {
  const gitdir = await insideOrRefuse(root, candidate, "the git directory")
  const commonText = (await readText(path.join(gitdir, "commondir")))?.trim()
  const commondir = commonText === undefined || commonText === ""
    ? gitdir
    : await insideOrRefuse(root, path.resolve(gitdir, commonText), `the common directory named by ${shown(root, path.join(gitdir, "commondir"))}:`)
  const files = [...new Set([path.join(commondir, "config"), path.join(gitdir, "config"), path.join(commondir, "config.worktree"), path.join(gitdir, "config.worktree")])]
  const config: Array<ConfigEntry> = []
  const configFiles: Array<string> = []
  for (const file of files) {
    const entries = await readConfigFile(root, file)
    if (entries === undefined) continue
    config.push(...entries)
    configFiles.push(file)
  }
  const bare = lastValue(config, "core", undefined, "bare")
  const worktreeSetting = lastValue(config, "core", undefined, "worktree")
  let worktree: string | undefined
  if (worktreeSetting !== undefined) {
    // core.worktree is relative to the git directory
    worktree = await insideOrRefuse(root, path.resolve(gitdir, worktreeSetting), `core.worktree (in ${shown(root, path.join(gitdir, "config"))})`)
  } else if (top !== undefined && !(bare !== undefined && !isFalse(bare))) {
    worktree = await insideOrRefuse(root, top, "the work tree")
  }
  const format = lastValue(config, "extensions", undefined, "objectformat")?.toLowerCase()
  return { gitdir, commondir, worktree, config, configFiles, hashBytes: format === "sha256" ? 32 : 20 }
}

/**
 * The repository git would use when run in `start` (a real folder inside `root`), found as git finds it,
 * or undefined when there is none up to the working directory.
 */
export const findRepository = async (root: string, start: string): Promise<GitRepository | undefined> => {
  for (let dir = start;; dir = path.dirname(dir)) {
    const dotGit = path.join(dir, ".git")
    const stat = await statOf(dotGit)
    if (stat?.isFile()) {
      const target = await gitfileTarget(dotGit)
      if (!(await isGitDirectory(target))) throw new RepositoryRefused(`${shown(root, dotGit)} points to ${shown(root, target)}, which is not a git directory`)
      return openRepository(root, target, dir)
    }
    if (stat?.isDirectory() && (await isGitDirectory(dotGit))) return openRepository(root, dotGit, dir)
    if (await isGitDirectory(dir)) {
      // a bare repository, or the inside of a .git folder: no work tree unless core.worktree names one
      return openRepository(root, dir, undefined)
    }
    if (dir === root || !isInside(root, dir)) return undefined
  }
}

/**
 * Every git directory git might use from `start`, whatever git's own checks decide: each folder up to the
 * working directory, its `.git` (folder or file) and itself. A `.git` file's target outside is refused.
 */
export const candidateGitDirectories = async (root: string, start: string): Promise<ReadonlyArray<{ readonly gitdir: string; readonly top: string | undefined }>> => {
  const found: Array<{ gitdir: string; top: string | undefined }> = []
  for (let dir = start;; dir = path.dirname(dir)) {
    const dotGit = path.join(dir, ".git")
    const stat = await statOf(dotGit)
    if (stat?.isFile()) {
      const target = await gitfileTarget(dotGit)
      await insideOrRefuse(root, target, `${shown(root, dotGit)} points to a git directory:`)
      if (await isGitDirectory(target, true)) found.push({ gitdir: target, top: dir })
    } else if (stat?.isDirectory() && (await isGitDirectory(dotGit, true))) {
      found.push({ gitdir: dotGit, top: dir })
    }
    if (await isGitDirectory(dir, true)) found.push({ gitdir: dir, top: undefined })
    if (dir === root || !isInside(root, dir)) return found
  }
}

// ---------------------------------------------------------------------------------------------------------
// What a repository may hold before git is run in it

/** The core settings git may be run with; any other core.* (pager, editor, hooksPath, sshCommand, ...) is refused. */
const harmlessCore = new Set([
  "repositoryformatversion", "filemode", "bare", "logallrefupdates", "ignorecase", "precomposeunicode", "symlinks",
  "autocrlf", "eol", "safecrlf", "checkroundtripencoding", "quotepath", "abbrev", "compression", "loosecompression",
  "longpaths", "checkstat", "trustctime", "untrackedcache", "splitindex", "commitgraph", "multipackindex", "sparsecheckout",
  "sparsecheckoutcone", "whitespace", "bigfilethreshold", "deltabasecachelimit", "packedgitlimit", "packedgitwindowsize",
  "preloadindex", "fscache", "fsync", "fsyncmethod", "fsyncobjectfiles", "warnambiguousrefs", "sharedrepository", "notesref",
  "commentchar", "commentstring", "hidedotfiles", "protecthfs", "protectntfs", "createobject", "filesrefslocktimeout",
  "packedrefstimeout", "fsmonitorhookversion", "restrictinheritedhandles", "maxtreedepth"
])
/** core settings that name a file or folder: allowed when it is inside the working directory. */
const coreLocations = new Set(["worktree", "excludesfile", "attributesfile"])

/** Whole sections that name programs (or configuration to read from elsewhere). */
const refusedSections: Record<string, string> = {
  include: "includes another configuration file",
  includeif: "includes another configuration file",
  filter: "defines a clean/smudge/process filter, a program git runs on file contents",
  credential: "configures credential helpers (programs)",
  pager: "names a pager (a program)",
  hook: "defines a hook (a program)",
  difftool: "names a diff tool (a program)",
  mergetool: "names a merge tool (a program)",
  guitool: "names a tool (a program)",
  sendemail: "configures send-email (programs)",
  man: "names a manual viewer (a program)",
  web: "names a browser (a program)",
  browser: "names a browser (a program)",
  instaweb: "names a web server (a program)",
  gpg: "names a signing program or its files",
  uploadpack: "configures upload-pack (hooks run as programs)",
  uploadarchive: "configures upload-archive",
  protocol: "changes which transports (ext:: runs programs) git may use",
  trace2: "names files git writes traces to"
}

/** Variable names that name programs, in any section. */
const programName = /(command|cmd|program|editor|pager|hook|hookspath|helper|driver|textconv|askpass|browser|sshcommand|gitproxy|uploadpack|receivepack)$/
/** Sections whose variable names only look like program settings (advice.waitingForEditor, color.*). */
const namesOnly = new Set(["advice", "color"])
/** Variable names that name files or folders, in any section: allowed inside the working directory. */
const locationName = /(file|dir|directory|path|template)$/

export interface ConfigProblem {
  readonly file: string
  readonly line: number
  readonly reason: string
}

/** Why git may not be run with `entry` in its configuration, or undefined. */
const entryProblem = async (root: string, repo: GitRepository, entry: ConfigEntry): Promise<string | undefined> => {
  const { section, subsection, name, value } = entry
  const refusedSection = refusedSections[section]
  if (refusedSection !== undefined) return `${entry.key} ${refusedSection}`
  const inside = async (bases: ReadonlyArray<string>) => {
    if (value === undefined || value === "") return undefined
    if (value.startsWith("~") || value.startsWith("%(")) return `${entry.key} = ${value} names a place outside the working directory`
    for (const base of bases) {
      const real = await realAsFarAsExists(path.resolve(base, value))
      if (!isInside(root, real)) return `${entry.key} = ${value} names ${real}, outside the working directory ${root}`
    }
    return undefined
  }
  const bases = [repo.gitdir, repo.worktree ?? repo.gitdir]
  if (section === "core" && subsection === undefined) {
    if (name === "fsmonitor" && isFalse(value)) return undefined
    if (name === "worktree") return inside([repo.gitdir])
    if (coreLocations.has(name)) return inside(bases)
    if (harmlessCore.has(name)) return undefined
    return `${entry.key} is not a core setting git may run with (it may name a program: pager, editor, hooksPath, fsmonitor, sshCommand, askPass, gitProxy, ...)`
  }
  if (programName.test(name) && !namesOnly.has(section)) return `${entry.key} names a program for git to run`
  if (section === "diff" && (name === "external" || name === "tool" || name === "guitool")) return `${entry.key} names a program for git to run`
  if (section === "diff" && subsection === undefined && name === "submodule" && value?.toLowerCase() !== "short") {
    return `${entry.key} = ${value ?? "true"} makes git run itself inside submodules`
  }
  if (section === "merge" && subsection === undefined && (name === "tool" || name === "guitool")) return `${entry.key} names a program for git to run`
  if (section === "interactive" && name === "difffilter") return `${entry.key} names a program for git to run`
  if (section === "remote" && name === "vcs") return `${entry.key} names a remote helper (a program)`
  if ((section === "alias" || (section === "submodule" && name === "update")) && value?.trimStart().startsWith("!")) {
    return `${entry.key} runs a shell command`
  }
  if (locationName.test(name)) return inside(bases)
  return undefined
}

const hookProblems = async (root: string, dir: string): Promise<ReadonlyArray<ConfigProblem>> => {
  const hooks = path.join(dir, "hooks")
  const names = await fs.readdir(hooks).catch(() => [] as Array<string>)
  return names
    .filter((name) => !name.endsWith(".sample"))
    .map((name) => ({ file: shown(root, path.join(hooks, name)), line: 0, reason: "a hook: git runs it as a program" }))
}

/** git's quoting of an alternates line: `"..."` with C escapes. */
const unquoteAlternate = (line: string) => {
  if (!line.startsWith("\"")) return line
  try {
    return JSON.parse(line.replace(/\\([0-7]{3})/g, (_, o: string) => `\\u00${Number.parseInt(o, 8).toString(16).padStart(2, "0")}`)) as string
  } catch {
    return line
  }
}

const alternateProblems = async (root: string, objects: string, depth: number): Promise<ReadonlyArray<ConfigProblem>> => {
  const file = path.join(objects, "info", "alternates")
  const text = await readText(file)
  if (text === undefined) return []
  const problems: Array<ConfigProblem> = []
  const lines = text.split("\n")
  for (const [i, raw] of lines.entries()) {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) continue
    const target = await realAsFarAsExists(path.resolve(objects, unquoteAlternate(line)))
    if (!isInside(root, target)) {
      problems.push({ file: shown(root, file), line: i + 1, reason: `names objects in ${target}, outside the working directory ${root}` })
    } else if (depth < 5) {
      problems.push(...(await alternateProblems(root, target, depth + 1)))
    }
  }
  return problems
}

/** objects/info/alternates lines naming objects outside the working directory (git_status refuses them too). */
export const outsideAlternates = (root: string, repo: GitRepository) => alternateProblems(root, path.join(repo.commondir, "objects"), 0)

export const describeProblems = (problems: ReadonlyArray<ConfigProblem>) => format(problems)

/**
 * Everything in `repo` that would make git run a program or reach outside the working directory:
 * configuration (every file git reads for it), hooks, alternates. An empty list means none.
 */
export const repositoryProblems = async (root: string, repo: GitRepository): Promise<ReadonlyArray<ConfigProblem>> => {
  const problems: Array<ConfigProblem> = []
  for (const file of repo.configFiles) {
    const entries = (await readConfigFile(root, file)) ?? []
    for (const entry of entries) {
      const reason = await entryProblem(root, repo, entry)
      if (reason !== undefined) problems.push({ file: shown(root, file), line: entry.line, reason })
    }
  }
  for (const dir of new Set([repo.gitdir, repo.commondir])) problems.push(...(await hookProblems(root, dir)))
  problems.push(...(await alternateProblems(root, path.join(repo.commondir, "objects"), 0)))
  return problems
}

/** The submodules (gitlinks) in the repository's index whose folder holds a `.git`: git enters them. */
export const populatedSubmodules = async (repo: GitRepository): Promise<ReadonlyArray<string>> => {
  if (repo.worktree === undefined) return []
  const index = await fs.readFile(path.join(repo.gitdir, "index")).catch(() => undefined)
  if (index === undefined) return []
  let entries
  try {
    entries = parseIndex(index, repo.hashBytes)
  } catch {
    throw new RepositoryRefused(`the index of ${repo.gitdir} could not be read`)
  }
  const found: Array<string> = []
  for (const entry of entries) {
    if (entry.mode !== gitlinkMode) continue
    const folder = path.join(repo.worktree, entry.path)
    if ((await lstatOf(path.join(folder, ".git"))) !== undefined) found.push(folder)
  }
  return found
}

/** Most repositories one check looks at (the command's own, those above it, submodules, nested submodules). */
export const maxInspectedRepositories = 64

function format(problems: ReadonlyArray<ConfigProblem>) {
  return problems.slice(0, 10).map((p) => `${p.file}${p.line > 0 ? ` line ${p.line}` : ""}: ${p.reason}`).join("; ") +
    (problems.length > 10 ? `; and ${problems.length - 10} more` : "")
}

/**
 * Checks every repository git may use when run in `start`, and the submodules git would enter from them.
 * Resolves to undefined when git may run, or to the reason it may not.
 */
export const checkRepositoriesFrom = async (root: string, start: string): Promise<string | undefined> => {
  try {
    const queue = (await candidateGitDirectories(root, start)).map((c) => ({ ...c, depth: 0 }))
    const seen = new Set<string>()
    while (queue.length > 0) {
      const { gitdir, top, depth } = queue.shift()!
      const repo = await openRepository(root, gitdir, top)
      if (seen.has(repo.gitdir)) continue
      seen.add(repo.gitdir)
      if (seen.size > maxInspectedRepositories) return `more than ${maxInspectedRepositories} repositories (with submodules) would have to be checked`
      const problems = await repositoryProblems(root, repo)
      if (problems.length > 0) return `the repository ${shown(root, repo.gitdir)} is not safe to run git in: ${format(problems)}`
      if (depth >= 4) continue
      for (const folder of await populatedSubmodules(repo)) {
        const dotGit = path.join(folder, ".git")
        const stat = await statOf(dotGit)
        const target = stat?.isFile() ? await gitfileTarget(dotGit) : dotGit
        await insideOrRefuse(root, target, `the submodule ${shown(root, folder)} has its git directory`)
        if (await isGitDirectory(target, true)) queue.push({ gitdir: target, top: folder, depth: depth + 1 })
      }
    }
    return undefined
  } catch (error) {
    if (error instanceof RepositoryRefused) return error.message
    throw error
  }
}

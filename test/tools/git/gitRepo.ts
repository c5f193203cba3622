/** Real git repositories for the tests, made with the git command line (setup only, never through the tools). */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

// the machine's own configuration must not change what the tests build
const setupEnv = {
  ...process.env,
  GIT_CONFIG_GLOBAL: "/dev/null",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_TERMINAL_PROMPT: "0"
}

/** Runs git in `cwd` and returns its stdout; throws on a non-zero exit. */
export const git = (cwd: string, ...args: ReadonlyArray<string>): string =>
  execFileSync("git", [...args], { cwd, env: setupEnv, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 10_000 })

/** Like `git`, but a non-zero exit is returned instead of thrown (a merge with conflicts, say). */
export const gitAllowingFailure = (cwd: string, ...args: ReadonlyArray<string>): number => {
  try {
    git(cwd, ...args)
    return 0
  } catch (error) {
    return (error as { status?: number }).status ?? -1
  }
}

/** Gives the repository at `dir` a local identity and turns signing off. */
export const identify = (dir: string) => {
  git(dir, "config", "user.email", "tests@example.com")
  git(dir, "config", "user.name", "Tests")
  git(dir, "config", "commit.gpgsign", "false")
}

/** `git init -b main` in `dir` (created if needed), with a local identity and no signing. */
export const initRepo = (dir: string) => {
  fs.mkdirSync(dir, { recursive: true })
  git(dir, "init", "-q", "-b", "main")
  identify(dir)
  return dir
}

/** Writes `files` (relative path → content) under `dir`. */
export const write = (dir: string, files: Record<string, string>) => {
  for (const [relative, content] of Object.entries(files)) {
    const file = path.join(dir, relative)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
  }
}

/** Stages everything and commits; returns the new commit's hash. */
export const commitAll = (dir: string, message: string) => {
  git(dir, "add", "-A")
  git(dir, "commit", "-q", "-m", message)
  return git(dir, "rev-parse", "HEAD").trim()
}

/** A repository at `dir` with `files` committed on main; returns the commit hash. */
export const repoWith = (dir: string, files: Record<string, string>) => {
  initRepo(dir)
  write(dir, files)
  return commitAll(dir, "initial")
}

/** Appends `text` to `.git/config` of the repository at `dir`, as a model with write_file could. */
export const appendConfig = (dir: string, text: string) => fs.appendFileSync(path.join(dir, ".git", "config"), `\n${text}\n`)

/**
 * execute_command git: only read-only subcommands, only in repositories that cannot make git run a program
 * or reach outside the working directory, and with every setting that can be neutralised neutralised.
 *
 * 1. Arguments (planGitArguments): global options only from a short harmless list (`--git-dir`,
 *    `--work-tree`, `-C`, `-c`, `--exec-path`, `--namespace`, `--super-prefix`, `--config-env`, `--bare`,
 *    `--attr-source` and everything else are refused), a read-only subcommand (gitReadOnlySubcommands;
 *    `branch` and `tag` only list), and none of the options that write a file or run a program
 *    (`--output`, `--ext-diff`, `--textconv`, `--open-files-in-pager`/`grep -O`, `--help`, `--submodule=log|diff`,
 *    `--recurse-submodules`), in any unambiguous abbreviation.
 * 2. The repository (gitRepositoryRefusal, git/repository.ts): every git directory git might use from the
 *    command's folder (found as git finds it, and all other candidates up to the working directory), and the
 *    submodules it would enter, must hold no configuration naming a program or a place outside (filters,
 *    textconv, diff/merge drivers, pagers, editors, hooks and hooksPath, fsmonitor, sshCommand, credential
 *    helpers, includes, aliases with `!`, core.worktree/alternates/gitdir:/commondir outside, ...), no hook
 *    other than *.sample.
 * 3. The run (gitInvocation): `-c` overrides for what can be overridden (hooksPath, fsmonitor, pager,
 *    editor, sshCommand, credential helpers, every transport protocol off, signing programs, implicit bare
 *    repositories off, submodule recursion off), `--no-optional-locks`, and an environment with no GIT_*
 *    variable from the router's own, system and global configuration off, discovery stopped at the working
 *    directory, HOME set to the working directory.
 *
 * What remains: the check reads the repository, then git reads it again. A configuration written in
 * between would be used. No tool can write it: write_file refuses every path inside a git directory (any
 * name) and any write that would make a folder one (git/repositoryInternals.ts), git runs only read-only
 * subcommands; another allowlisted program that can write files could, unless its arguments are refused
 * inside git directories too (commandPolicy).
 */
import * as path from "node:path"
import { checkRepositoriesFrom } from "../git/repository.ts"

/** The git subcommands execute_command runs: they read the repository and never write it. */
export const gitReadOnlySubcommands = [
  "status", "log", "show", "diff", "blame", "grep", "shortlog", "describe", "rev-parse", "rev-list", "ls-files", "ls-tree",
  "for-each-ref", "show-ref", "merge-base", "diff-tree", "diff-index", "diff-files", "branch", "tag", "version"
] as const

const readOnly = new Set<string>(gitReadOnlySubcommands)

/** Global options (before the subcommand) that change nothing about which repository or programs git uses. */
const harmlessGlobals = new Set([
  "--no-pager", "-P", "-p", "--paginate", "--no-replace-objects", "--literal-pathspecs", "--glob-pathspecs",
  "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--no-advice", "--version"
])

/** Why each dangerous global option is refused (git matches global options exactly, so these are all the spellings). */
const refusedGlobals: ReadonlyArray<readonly [RegExp, string]> = [
  [/^--(git-dir|work-tree)(=|$)/, "it points git at another repository or work tree"],
  [/^-C/, "it changes the folder git runs in (use cwd)"],
  [/^-c/, "it sets configuration, which can make git run any program"],
  [/^--config-env(=|$)/, "it sets configuration, which can make git run any program"],
  [/^--exec-path(=|$)/, "it changes where git finds the programs it runs"],
  [/^--(namespace|super-prefix)(=|$)/, "it changes how git names refs and paths"],
  [/^--bare$/, "it makes git use the folder itself as a repository"],
  [/^--attr-source(=|$)/, "it changes where git reads attributes"]
]

/** Options of the subcommands that write a file or run a program: refused in every abbreviation git accepts. */
const refusedOptions: ReadonlyArray<readonly [string, string]> = [
  ["--output", "it writes a file"],
  ["--ext-diff", "it runs an external diff program"],
  ["--textconv", "it runs textconv programs"],
  ["--open-files-in-pager", "it runs a pager program"],
  ["--help", "it runs a manual viewer"],
  ["--recurse-submodules", "it makes git enter submodules"],
  ["--submodule", "--submodule=log or diff makes git run itself inside submodules (--submodule=short is allowed)"],
  ["--exec", "it runs a program"],
  ["--upload-pack", "it runs a program"],
  ["--receive-pack", "it runs a program"]
]
/** Real options that are also prefixes of a refused one: taken as themselves. */
const exactOptions = new Set(["--text", "--submodule=short"])

/** Options of `branch`/`tag` that only select or format the listing, and those that take a separate value. */
const listingFlags = new Set([
  "--list", "-l", "-a", "--all", "-r", "--remotes", "-v", "-vv", "--verbose", "--show-current", "--column", "--no-column",
  "--color", "--no-color", "-i", "--ignore-case", "--abbrev", "--no-abbrev", "-q", "--quiet", "--omit-empty", "-n"
])
const listingValueOptions = new Set(["--contains", "--no-contains", "--merged", "--no-merged", "--points-at", "--sort", "--format"])

const listingRefusal = (subcommand: string, rest: ReadonlyArray<string>): string | undefined => {
  let listing = false
  let operand: string | undefined
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    if (arg === "--") {
      operand ??= rest[i + 1]
      break
    }
    if (listingValueOptions.has(arg)) {
      i++
      continue
    }
    const name = arg.split("=")[0]!
    if (arg.includes("=") && (listingValueOptions.has(name) || ["--abbrev", "--color", "--column"].includes(name))) continue
    if (listingFlags.has(arg)) {
      if (arg === "--list" || arg === "-l") listing = true
      continue
    }
    if (subcommand === "tag" && /^-n\d+$/.test(arg)) continue
    if (/^-[alrviq]+$/.test(arg) && (subcommand === "branch" || /^-[li]+$/.test(arg))) {
      if (arg.includes("l")) listing = true
      continue
    }
    if (arg.startsWith("-")) return `git ${subcommand} ${arg} is refused: execute_command runs git ${subcommand} only to list (--list, -a, -r, -v, --contains, --merged, --sort, --format, ...)`
    operand ??= arg
  }
  if (operand !== undefined && !listing) {
    return `git ${subcommand} ${operand} is refused: it would create a ${subcommand}; to list matching ones give --list ${operand}`
  }
  return undefined
}

/** grep's short options that take a value: letters after them are the value, not options. */
const grepValueLetters = "efABCm"

/** `git <args>` checked: the refusal, or the global options, subcommand and its arguments. */
export const planGitArguments = (
  args: ReadonlyArray<string>
): { readonly refusal: string } | { readonly globals: ReadonlyArray<string>; readonly subcommand: string; readonly rest: ReadonlyArray<string> } => {
  let i = 0
  const globals: Array<string> = []
  for (; i < args.length && args[i]!.startsWith("-"); i++) {
    const arg = args[i]!
    if (harmlessGlobals.has(arg)) {
      globals.push(arg)
      continue
    }
    const known = refusedGlobals.find(([pattern]) => pattern.test(arg))
    return {
      refusal: `git ${arg} is refused: ${known?.[1] ?? `it is not one of the global options execute_command passes to git (${[...harmlessGlobals].join(", ")})`}`
    }
  }
  const subcommand = args[i]
  const allowed = `allowed git subcommands are ${gitReadOnlySubcommands.join(", ")} (read-only; branch and tag only list)`
  if (subcommand === undefined) {
    return globals.includes("--version") ? { globals, subcommand: "version", rest: [] } : { refusal: `git needs a subcommand: ${allowed}` }
  }
  if (!readOnly.has(subcommand)) return { refusal: `git ${subcommand} is refused: ${allowed}` }
  const rest = args.slice(i + 1)
  for (const arg of rest) {
    if (arg === "--") break
    if (arg.startsWith("--") && arg !== "--" && !exactOptions.has(arg) && !exactOptions.has(arg.split("=")[0]!)) {
      const name = arg.split("=")[0]!
      const hit = refusedOptions.find(([option]) => option.startsWith(name))
      if (hit !== undefined) return { refusal: `git ${subcommand} ${arg} is refused: ${hit[1]}` }
    }
    if (subcommand === "grep" && /^-[^-]/.test(arg)) {
      for (const letter of arg.slice(1)) {
        if (letter === "O") return { refusal: `git grep ${arg} is refused: -O runs a pager program` }
        if (grepValueLetters.includes(letter)) break
      }
    }
  }
  if (subcommand === "branch" || subcommand === "tag") {
    const refusal = listingRefusal(subcommand, rest)
    if (refusal !== undefined) return { refusal }
  }
  return { globals, subcommand, rest }
}

/** `-c` overrides for every setting a repository could use to run a program and that a later value replaces. */
export const gitOverrides: ReadonlyArray<string> = [
  "core.hooksPath=/dev/null",
  "core.fsmonitor=false",
  "core.pager=cat",
  "core.editor=true",
  "core.sshCommand=false",
  "core.askPass=false",
  "sequence.editor=true",
  "credential.helper=",
  "protocol.allow=never",
  ...["file", "ext", "ssh", "git", "http", "https"].map((name) => `protocol.${name}.allow=never`),
  "gpg.program=false",
  "gpg.ssh.program=false",
  "gpg.x509.program=false",
  "log.showSignature=false",
  "safe.bareRepository=explicit",
  "submodule.recurse=false",
  "status.submoduleSummary=false",
  "diff.submodule=short",
  "gc.auto=0",
  "maintenance.auto=false"
]

/** Arguments inserted after the subcommand: diff drivers and textconv never run. */
const subcommandSafety: Record<string, ReadonlyArray<string>> = {
  diff: ["--no-ext-diff", "--no-textconv"],
  log: ["--no-ext-diff", "--no-textconv"],
  show: ["--no-ext-diff", "--no-textconv"],
  blame: ["--no-textconv"]
}

/**
 * The environment git runs with: the router's child environment without any GIT_* variable, then system
 * and global configuration off, discovery stopped above `root`, no prompts, pagers or editors, HOME at `root`
 * (so `~` and the default attributes/ignore files are inside the working directory).
 */
export const gitEnvironment = (base: Readonly<Record<string, string>>, root: string): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const [name, value] of Object.entries(base)) {
    if (!name.startsWith("GIT_") && !["XDG_CONFIG_HOME", "SSH_ASKPASS", "EDITOR", "VISUAL", "PAGER", "HOME"].includes(name)) env[name] = value
  }
  return Object.assign(env, {
    HOME: root,
    PAGER: "cat",
    GIT_PAGER: "cat",
    GIT_EDITOR: "true",
    GIT_SEQUENCE_EDITOR: "true",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CONFIG_SYSTEM: "/dev/null",
    GIT_CONFIG_GLOBAL: "/dev/null",
    GIT_ATTR_NOSYSTEM: "1",
    GIT_CEILING_DIRECTORIES: path.dirname(root),
    GIT_OPTIONAL_LOCKS: "0",
    GIT_NO_LAZY_FETCH: "1",
    GIT_PROTOCOL_FROM_USER: "0",
    GIT_ADVICE: "0"
  })
}

/** Why git may not run from `cwd` (a real folder inside `root`), judged on the repositories it could use. */
export const gitRepositoryRefusal = (root: string, cwd: string): Promise<string | undefined> => checkRepositoriesFrom(root, cwd)

/**
 * Everything execute_command needs to run `git <args>` in `cwd`: the refusal, or the arguments and
 * environment to run with. `base` is the router's child environment.
 */
export const gitInvocation = async (
  root: string,
  cwd: string,
  args: ReadonlyArray<string>,
  base: Readonly<Record<string, string>>
): Promise<{ readonly refusal: string } | { readonly args: ReadonlyArray<string>; readonly env: Record<string, string> }> => {
  const plan = planGitArguments(args)
  if ("refusal" in plan) return plan
  const repository = await gitRepositoryRefusal(root, cwd)
  if (repository !== undefined) return { refusal: `git is refused here: ${repository}` }
  return {
    args: [
      ...gitOverrides.flatMap((setting) => ["-c", setting]),
      "--no-optional-locks",
      ...plan.globals.filter((g) => g !== "--no-optional-locks"),
      ...(plan.subcommand === "version" && plan.globals.includes("--version") ? [] : [plan.subcommand]),
      ...(subcommandSafety[plan.subcommand] ?? []),
      ...plan.rest
    ],
    env: gitEnvironment(base, root)
  }
}

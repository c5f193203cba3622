/**
 * What execute_command may run, and which of its arguments name files.
 *
 * An allowlist of programs is only as good as the rules on their arguments. For the programs that take
 * files (grep, find, cat, head, tail, ls, git, docker) the arguments are read the way the program itself
 * reads them: a table per program, taken from its documentation (GNU grep 3, findutils 4.9, coreutils 9,
 * git 2.39, the docker CLI), lists every option it has, whether it takes a value and whether that value
 * is a path, and is parsed as getopt_long does (separate `-f x`, attached `-fx`, grouped `-xfx` / `-rif x`,
 * `--file=x`, `--file x`, any unambiguous abbreviation `--fil=x`, operands after `--`, options after
 * operands). Every option value that is a path and every operand that is a file is returned in `paths`,
 * for execute_command to confine to the working directory; options that run programs, write files, read
 * their arguments from files or follow symbolic links out of the tree are refused, and so is any option
 * not in the table (an allowlist of options, not a blocklist).
 *
 * git has too many subcommands and options for a complete table, so it is read conservatively: its global
 * options exactly (git accepts no abbreviation there), and after the subcommand every operand and every
 * option value is treated as a path unless it is known to be a pattern (`--grep`, `-S`, `git grep -e`, ...).
 * Which subcommands and global options git may run with at all is decided next, by gitSafety.ts.
 *
 * curl and ping are refused: what they reach (URL globs and lists, file:/dict:/gopher: URLs, redirects,
 * proxies, config files, DNS answers) cannot be confined from the argument list; fetch_url can.
 */
import * as fs from "node:fs/promises"
import * as path from "node:path"

export interface CommandSettings {
  readonly allowedCommands: ReadonlyArray<string>
  readonly allowedDockerSubcommands: ReadonlyArray<string>
}

export interface CommandPlan {
  /** Why the command is refused, when it is. */
  readonly refusal?: string
  /** The arguments to run with (git's diff, log and show get --no-ext-diff --no-textconv). */
  readonly args: ReadonlyArray<string>
  /**
   * Arguments (or option values) that name files or folders, relative to the command's folder: each must
   * stay inside the working directory, whether or not it exists.
   */
  readonly paths: ReadonlyArray<string>
  /**
   * For programs without a table (ones an operator adds): every other word that could name a file. When
   * something exists there (a symbolic link, say), it must stay inside the working directory too.
   */
  readonly operands: ReadonlyArray<string>
}

const controlCharacter = /[\u0000-\u001f\u007f]/
const programName = /^[A-Za-z0-9._+-]+$/

// ---------------------------------------------------------------------------------------------------------
// Option tables and a getopt_long reader

/** What an option takes. */
type Option =
  | { readonly kind: "flag" }
  /** A value that is not a path (a number, a pattern, a format); `optional`: only as `--opt=value` or `-oVALUE`. */
  | { readonly kind: "text"; readonly optional: boolean }
  /** A value that names a file or folder. */
  | { readonly kind: "path" }
  | { readonly kind: "refused"; readonly reason: string }

const flag: Option = { kind: "flag" }
const text: Option = { kind: "text", optional: false }
const optionalText: Option = { kind: "text", optional: true }
const file: Option = { kind: "path" }
const refused = (reason: string): Option => ({ kind: "refused", reason })

interface OptionTable {
  readonly short: Readonly<Record<string, Option>>
  readonly long: Readonly<Record<string, Option>>
  /** getopt_long accepts any unambiguous prefix of a long option; pflag (docker) only exact names. */
  readonly abbreviations: boolean
  /** pflag: a boolean flag may be given a value, `--all=false`. */
  readonly flagValues?: boolean
  /** Long names that are one option (getopt_long takes a prefix of several only when they are). */
  readonly aliases?: ReadonlyArray<ReadonlyArray<string>>
}

/** `{ a: option, b: option }` for each letter of `letters`. */
const letters = (chars: string, option: Option): Record<string, Option> =>
  Object.fromEntries(Array.from(chars, (c) => [c, option]))

/** `{ name: option }` for each name. */
const names = (list: ReadonlyArray<string>, option: Option): Record<string, Option> =>
  Object.fromEntries(list.map((name) => [name, option]))

/** The long option `name` spells (exactly or, where allowed, as an unambiguous prefix), or why none. */
const lookupLong = (table: OptionTable, name: string): { readonly name: string; readonly option: Option } | string => {
  const exact = table.long[name]
  if (exact !== undefined) return { name, option: exact }
  const candidates = table.abbreviations && name !== "" ? Object.keys(table.long).filter((long) => long.startsWith(name)) : []
  if (candidates.length === 0) return "unknown"
  // getopt_long takes a prefix of several names only when they are all the same option
  if (candidates.length === 1 || (table.aliases ?? []).some((group) => candidates.every((c) => group.includes(c)))) {
    return { name: candidates[0]!, option: table.long[candidates[0]!]! }
  }
  return `ambiguous (--${candidates.sort().join(", --")})`
}

interface Parsed {
  readonly operands: Array<string>
  /** Values of path options. */
  readonly paths: Array<string>
  /** Options seen: letters and full long names. */
  readonly seen: Set<string>
  /** Where reading stopped (`stopAtOperand`): the index of the first operand, or args.length. */
  readonly next: number
}

const refusalOf = (program: string, shown: string, reason: string) => `${program} ${shown} is refused: ${reason}`

const unknownOption = (program: string) => `it is not among the ${program} options execute_command allows`

/**
 * Reads `args` from `from` as getopt_long does (GNU argument permutation: options may follow operands;
 * `--` ends the options; a lone `-` is an operand). With `stopAtOperand` it stops at the first operand
 * (a program's global options before its subcommand).
 */
const readOptions = (
  program: string,
  table: OptionTable,
  args: ReadonlyArray<string>,
  from = 0,
  stopAtOperand = false
): Parsed | string => {
  const parsed: Parsed = { operands: [], paths: [], seen: new Set(), next: args.length }
  for (let i = from; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "--") {
      parsed.operands.push(...args.slice(i + 1))
      return parsed
    }
    if (arg === "-" || !arg.startsWith("-")) {
      if (stopAtOperand) return { ...parsed, next: i }
      parsed.operands.push(arg)
      continue
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq)
      const found = lookupLong(table, name)
      if (typeof found === "string") {
        return refusalOf(program, arg, found === "unknown" ? unknownOption(program) : `--${name} is ${found}`)
      }
      const { option } = found
      parsed.seen.add(found.name)
      if (option.kind === "refused") return refusalOf(program, arg, option.reason)
      if (option.kind === "flag") {
        if (eq >= 0 && table.flagValues !== true) return refusalOf(program, arg, `--${found.name} takes no value`)
        continue
      }
      if (option.kind === "text" && option.optional) continue
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i]
      if (option.kind === "path" && value !== undefined) parsed.paths.push(value)
      continue
    }
    // a group of short options: flags, then at most one that takes a value (the rest of the group, or the next argument)
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!
      const option = table.short[letter]
      const shown = arg.length === 2 ? arg : `-${letter} (in ${arg})`
      if (option === undefined) return refusalOf(program, shown, unknownOption(program))
      parsed.seen.add(letter)
      if (option.kind === "refused") return refusalOf(program, shown, option.reason)
      if (option.kind === "flag") {
        if (table.flagValues === true && arg[j + 1] === "=") break
        continue
      }
      const rest = arg.slice(j + 1)
      if (option.kind === "text" && option.optional) break
      const value = rest !== "" ? rest : args[++i]
      if (option.kind === "path" && value !== undefined) parsed.paths.push(value)
      break
    }
  }
  return parsed
}

// ---------------------------------------------------------------------------------------------------------
// grep, cat, head, tail, ls (GNU)

const followsLinks = "it follows symbolic links, which may lead outside the working directory"

const grepTable: OptionTable = {
  abbreviations: true,
  aliases: [["fixed-regexp", "fixed-strings"], ["color", "colour"]],
  short: {
    ...letters("EFGPHhILlTUVabcinoqrsuvwxyZz0123456789", flag),
    ...letters("ABCDdem", text),
    f: file,
    R: refused(`${followsLinks}; use -r`)
  },
  long: {
    ...names([
      "basic-regexp", "extended-regexp", "fixed-regexp", "fixed-strings", "perl-regexp", "byte-offset", "count",
      "files-with-matches", "files-without-match", "help", "ignore-case", "no-ignore-case", "initial-tab", "line-buffered",
      "line-number", "line-regexp", "no-filename", "no-group-separator", "no-messages", "null", "null-data",
      "only-matching", "quiet", "recursive", "invert-match", "silent", "text", "binary", "unix-byte-offsets", "version",
      "with-filename", "word-regexp"
    ], flag),
    ...names([
      "after-context", "before-context", "binary-files", "context", "devices", "directories", "exclude", "exclude-dir",
      "group-separator", "include", "label", "max-count", "regexp"
    ], text),
    ...names(["color", "colour"], optionalText),
    ...names(["file", "exclude-from"], file),
    "dereference-recursive": refused(`${followsLinks}; use --recursive`)
  }
}

const catTable: OptionTable = {
  abbreviations: true,
  short: letters("AbeEnstTuv", flag),
  long: names(["show-all", "number-nonblank", "show-ends", "number", "squeeze-blank", "show-tabs", "show-nonprinting", "help", "version"], flag)
}

/** A digit as an option: head and tail read `-5` only as their first argument (see obsoleteCount). */
const countOnlyFirst = (program: string) =>
  refused(`a count is given as -n NUM${program === "tail" ? " or -c NUM" : ""} (the form -NUM only as the first argument)`)

const headTable: OptionTable = {
  abbreviations: true,
  short: { ...letters("qvz", flag), ...letters("cn", text), ...letters("0123456789", countOnlyFirst("head")) },
  long: { ...names(["quiet", "silent", "verbose", "zero-terminated", "help", "version"], flag), ...names(["bytes", "lines"], text) }
}

const tailTable: OptionTable = {
  abbreviations: true,
  short: { ...letters("fFqvz", flag), ...letters("cns", text), ...letters("0123456789", countOnlyFirst("tail")) },
  long: {
    ...names(["quiet", "retry", "silent", "verbose", "zero-terminated", "help", "version"], flag),
    ...names(["bytes", "lines", "max-unchanged-stats", "pid", "sleep-interval"], text),
    follow: optionalText
  }
}

const lsTable: OptionTable = {
  abbreviations: true,
  short: {
    ...letters("abcdfghiklmnopqrstuvxABCDFGHNQRSUXZ1", flag),
    ...letters("ITw", text),
    L: refused(`${followsLinks}: it shows (and with -R enters) what they point to`)
  },
  long: {
    ...names([
      "all", "almost-all", "author", "escape", "ignore-backups", "directory", "dired", "file-type", "full-time",
      "group-directories-first", "no-group", "human-readable", "si", "dereference-command-line",
      "dereference-command-line-symlink-to-dir", "inode", "kibibytes", "literal", "numeric-uid-gid", "hide-control-chars",
      "show-control-chars", "quote-name", "reverse", "recursive", "size", "context", "zero", "help", "version"
    ], flag),
    ...names(["block-size", "format", "hide", "indicator-style", "ignore", "quoting-style", "sort", "time", "time-style", "tabsize", "width"], text),
    ...names(["color", "classify", "hyperlink"], optionalText),
    dereference: refused(`${followsLinks}: it shows (and with -R enters) what they point to`)
  }
}

/**
 * head and tail read an old form, `-5`, `-5c`, `-20lf`, as an option only in the first argument (the next
 * one is then a file even after a `c`); anywhere else a digit ends the program with an error.
 */
const obsoleteCount: Readonly<Record<string, RegExp>> = { head: /^-\d+[bcklmqvz]*$/, tail: /^-\d+[bcl]?f?$/ }

/** What execute_command must confine: `paths` always, `operands` where something exists. */
interface Confinement {
  readonly paths: ReadonlyArray<string>
  readonly operands: ReadonlyArray<string>
}

const planFiles = (program: string, table: OptionTable, args: ReadonlyArray<string>): Confinement | string => {
  const obsolete = obsoleteCount[program]
  const skip = obsolete !== undefined && args[0] !== undefined && obsolete.test(args[0]) ? 1 : 0
  const parsed = readOptions(program, table, args, skip)
  if (typeof parsed === "string") return parsed
  // every operand is a file (grep: after the pattern, which is the first operand unless -e or -f gave one)
  const patternGiven = ["e", "f", "regexp", "file"].some((o) => parsed.seen.has(o))
  const files = program === "grep" && !patternGiven ? parsed.operands.slice(1) : parsed.operands
  return { paths: [...parsed.paths, ...files], operands: [] }
}

// ---------------------------------------------------------------------------------------------------------
// find (GNU findutils 4.9): leading options, starting points, then an expression of its own syntax

type FindToken = "flag" | "text" | "path" | { readonly refused: string }

const runsOrWrites = "it runs programs or writes files"

const findTokens: Readonly<Record<string, FindToken>> = {
  ...Object.fromEntries([
    "(", ")", "!", ",", "-not", "-a", "-and", "-o", "-or", "-daystart", "-depth", "-d", "-empty", "-executable", "-false",
    "-ignore_readdir_race", "-noignore_readdir_race", "-ls", "-mount", "-noleaf", "-nogroup", "-nouser", "-nowarn", "-print",
    "-print0", "-prune", "-quit", "-readable", "-true", "-warn", "-writable", "-xdev", "-help", "--help", "-version",
    "--version"
  ].map((t) => [t, "flag"])),
  ...Object.fromEntries([
    "-amin", "-atime", "-cmin", "-context", "-ctime", "-fstype", "-gid", "-group", "-ilname", "-iname", "-inum", "-ipath",
    "-iregex", "-iwholename", "-links", "-lname", "-maxdepth", "-mindepth", "-mmin", "-mtime", "-name", "-path", "-perm",
    "-printf", "-regex", "-regextype", "-size", "-type", "-uid", "-used", "-user", "-wholename", "-xtype"
  ].map((t) => [t, "text"])),
  ...Object.fromEntries(["-anewer", "-cnewer", "-newer", "-samefile"].map((t) => [t, "path"])),
  ...Object.fromEntries(
    ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"].map((t) => [t, { refused: runsOrWrites }])
  ),
  "-files0-from": { refused: "it reads the starting points from a file, and they may name folders outside the working directory" },
  "-follow": { refused: followsLinks }
}

/** -newerXY: a reference file, or with Y = t a date. */
const findToken = (arg: string): FindToken | undefined => {
  const newer = /^-newer[aBcm]([aBcmt])$/.exec(arg)
  if (newer !== null) return newer[1] === "t" ? "text" : "path"
  return Object.hasOwn(findTokens, arg) ? findTokens[arg] : undefined
}

/** findutils' looks_like_expression: `-x`, `(` and `!` start the expression; `-` alone is a file. */
const startsExpression = (arg: string) => (arg.startsWith("-") && arg.length > 1) || ["(", "!", ")", ","].includes(arg)

const planFind = (args: ReadonlyArray<string>): Confinement | string => {
  const paths: Array<string> = []
  let i = 0
  // leading options: -H -P (-L follows every link), -D debugopts, -Olevel, --
  for (; i < args.length; i++) {
    const arg = args[i]!
    if (arg === "-H" || arg === "-P" || /^-O\d*$/.test(arg)) continue
    if (arg === "-L") return refusalOf("find", arg, followsLinks)
    if (arg === "-D") {
      i++
      continue
    }
    if (arg === "--") i++
    break
  }
  for (; i < args.length && !startsExpression(args[i]!); i++) paths.push(args[i]!)
  for (; i < args.length; i++) {
    const arg = args[i]!
    const token = findToken(arg)
    if (token === undefined) {
      return startsExpression(arg)
        ? refusalOf("find", arg, "it is not among the find expressions execute_command allows")
        : refusalOf("find", arg, "starting points must come before the expression")
    }
    if (typeof token === "object") return refusalOf("find", arg, token.refused)
    if (token === "flag") continue
    const value = args[++i]
    if (token === "path" && value !== undefined) paths.push(value)
  }
  return { paths, operands: [] }
}

// ---------------------------------------------------------------------------------------------------------
// docker (pflag: exact long names, `--flag=false`)

const daemonOrCredentials = "it changes which daemon or credentials docker uses"

const dockerGlobal: OptionTable = {
  abbreviations: false,
  flagValues: true,
  short: { ...letters("Dvh", flag), l: text, ...letters("Hc", refused(daemonOrCredentials)) },
  long: {
    ...names(["debug", "tls", "tlsverify", "version", "help"], flag),
    "log-level": text,
    ...names(["host", "context", "config", "tlscacert", "tlscert", "tlskey"], refused(daemonOrCredentials))
  }
}

const dockerFormat = { short: { f: text, h: flag }, long: { format: text, help: flag } }

/** The default subcommands: none takes a file; their operands are container and image names. */
const dockerSubcommands: Readonly<Record<string, OptionTable>> = {
  ps: {
    abbreviations: false,
    flagValues: true,
    short: { ...letters("alqsh", flag), ...letters("fn", text) },
    long: { ...names(["all", "latest", "no-trunc", "quiet", "size", "help"], flag), ...names(["filter", "format", "last"], text) }
  },
  images: {
    abbreviations: false,
    flagValues: true,
    short: { ...letters("aqh", flag), f: text },
    long: { ...names(["all", "digests", "no-trunc", "quiet", "tree", "help"], flag), ...names(["filter", "format"], text) }
  },
  inspect: {
    abbreviations: false,
    flagValues: true,
    short: { ...dockerFormat.short, s: flag },
    long: { ...dockerFormat.long, size: flag, type: text }
  },
  logs: {
    abbreviations: false,
    flagValues: true,
    short: { ...letters("fth", flag), n: text },
    long: { ...names(["details", "follow", "timestamps", "help"], flag), ...names(["since", "tail", "until"], text) }
  },
  version: { abbreviations: false, flagValues: true, ...dockerFormat },
  info: { abbreviations: false, flagValues: true, ...dockerFormat }
}

const planDocker = (args: ReadonlyArray<string>, allowed: ReadonlyArray<string>): Confinement | string => {
  const global = readOptions("docker", dockerGlobal, args, 0, true)
  if (typeof global === "string") return global
  const subcommand = args[global.next]
  if (subcommand === undefined) return { paths: [], operands: [] }
  if (!allowed.includes(subcommand)) {
    return `docker ${subcommand} is refused: allowed docker subcommands are ${allowed.join(", ")} (tools.allowedDockerSubcommands)`
  }
  const table = Object.hasOwn(dockerSubcommands, subcommand) ? dockerSubcommands[subcommand] : undefined
  if (table === undefined) {
    // a subcommand an operator added (run, cp, build, ...): no table, so path-looking words only
    const rest = args.slice(global.next + 1)
    return { paths: genericPaths(rest), operands: genericOperands(rest) }
  }
  const parsed = readOptions("docker", table, args, global.next + 1)
  // operands are container, image and object names, never files
  return typeof parsed === "string" ? parsed : { paths: parsed.paths, operands: [] }
}

// ---------------------------------------------------------------------------------------------------------
// git

// options that name a program to run (git accepts unique prefixes of long options, so any prefix counts)
const gitForbiddenOptions = [
  "--exec-path", "--upload-pack", "--receive-pack", "--exec", "--extcmd", "--config-env", "--tool", "--open-files-in-pager", "--template"
]
const namesProgram = "it names a program for git to run"

/**
 * git's own options, before the subcommand: git.c reads them exactly (no abbreviation, `-C dir` only as
 * two words) and stops at the first word that is not one of them.
 */
const gitGlobalOptions: Readonly<Record<string, { readonly option: Option; readonly equals: boolean; readonly separate: boolean }>> = {
  "-C": { option: file, equals: false, separate: true },
  "--git-dir": { option: file, equals: true, separate: true },
  "--work-tree": { option: file, equals: true, separate: true },
  "--namespace": { option: text, equals: true, separate: true },
  "--list-cmds": { option: text, equals: true, separate: false },
  "-c": { option: refused("-c can make git run any program"), equals: false, separate: true },
  "--config-env": { option: refused(namesProgram), equals: true, separate: true },
  "--exec-path": { option: refused(namesProgram), equals: true, separate: false },
  "--shallow-file": { option: refused("it is git's internal option to read a file git names"), equals: false, separate: true },
  "--super-prefix": { option: refused("it is git's internal option"), equals: true, separate: true },
  ...Object.fromEntries([
    "-p", "--paginate", "-P", "--no-pager", "--no-replace-objects", "--bare", "--literal-pathspecs", "--no-literal-pathspecs",
    "--glob-pathspecs", "--noglob-pathspecs", "--icase-pathspecs", "--no-optional-locks", "--html-path", "--man-path",
    "--info-path", "-h", "--help", "-v", "--version"
  ].map((name) => [name, { option: flag, equals: false, separate: false }]))
}

/**
 * What is known of a subcommand's options: which short letters are flags, and which options take a value
 * that is a message or a pattern (never confined). Every other option value and every operand is
 * confined as a path; a letter not listed ends what can be read of its group, whose rest is confined.
 */
interface GitRules {
  readonly flags?: string
  readonly textLetters?: string
  /** Long options whose value (`--opt=value` or the next word) is text. */
  readonly textOptions?: ReadonlyArray<string>
  /** Long options that take text only as `--opt=value` (alone, the next word is an operand). */
  readonly textEqualsOptions?: ReadonlyArray<string>
  /** Letters that name a program to run. */
  readonly programLetters?: string
  /** git grep: the first operand is the pattern unless -e or -f gave one. */
  readonly patternOperand?: boolean
}

const logRules: GitRules = { flags: "pusz", textLetters: "SG", textOptions: ["grep", "author", "committer"], textEqualsOptions: ["format", "pretty"] }
const gitRules: Readonly<Record<string, GitRules>> = {
  log: logRules,
  show: logRules,
  shortlog: logRules,
  "rev-list": logRules,
  reflog: logRules,
  grep: { flags: "aiIvwhHEGFPnlLozqpW", textLetters: "eABCm", programLetters: "O", patternOperand: true },
  // not run by gitSafety.ts today (they write); refused here as well should that change
  rebase: { programLetters: "x" },
  clone: { programLetters: "uc" },
  archive: { programLetters: "u" }
}

/** `--name` or `--name=value` where `--name` spells one of `options` or a prefix of it (git accepts unique prefixes). */
const namesOption = (arg: string, options: ReadonlyArray<string>) => {
  if (!arg.startsWith("--") || arg === "--") return false
  const name = arg.split("=")[0]!
  return name.length > 2 && options.some((option) => option.startsWith(name))
}

/** `value` as git sees it after `-C dir` (relative values are relative to dir). */
const under = (dir: string, value: string) => (dir === "" || path.isAbsolute(value) ? value : `${dir}/${value}`)

const planGit = (args: ReadonlyArray<string>): { readonly args: ReadonlyArray<string>; readonly paths: Array<string> } | string => {
  // wherever they stand (git's own options, a subcommand's, even a value): -c sets configuration, and
  // these name programs
  const config = args.find((arg) => arg.startsWith("-c"))
  if (config !== undefined) return refusalOf("git", config, "-c can make git run any program")
  const forbidden = args.find((arg) => namesOption(arg, gitForbiddenOptions))
  if (forbidden !== undefined) return refusalOf("git", forbidden, namesProgram)
  const paths: Array<string> = []
  let dir = ""
  let at = 0
  // global options
  for (; at < args.length; at++) {
    const arg = args[at]!
    if (!arg.startsWith("-")) break
    const eq = arg.indexOf("=")
    const named = gitGlobalOptions[arg] ?? (eq > 0 ? gitGlobalOptions[arg.slice(0, eq)] : undefined)
    const attached = gitGlobalOptions[arg] === undefined && named !== undefined
    if (named === undefined || (attached && !named.equals)) {
      return refusalOf("git", arg, "it is not among the git options execute_command allows before the subcommand")
    }
    const { option } = named
    if (option.kind === "refused") return refusalOf("git", arg, option.reason)
    if (option.kind === "flag") {
      if (["-h", "--help", "-v", "--version"].includes(arg)) break
      continue
    }
    if (!attached && !named.separate) return refusalOf("git", arg, `${arg} takes its value as ${arg}=value`)
    const value = attached ? arg.slice(eq + 1) : args[++at]
    if (option.kind !== "path" || value === undefined) continue
    paths.push(under(dir, value))
    if (arg === "-C" && value !== "") dir = under(dir, value)
  }
  const word = args[at]
  const subcommand = word === undefined ? undefined
    : word === "-h" || word === "--help" ? "help"
    : word === "-v" || word === "--version" ? "version"
    : word
  // which subcommands run at all (read-only ones), and which global options, is gitSafety.ts's to decide
  if (subcommand === undefined) return { args, paths }
  const rules = gitRules[subcommand] ?? {}
  const rest = args.slice(at + 1)
  const operands: Array<string> = []
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i]!
    if (arg === "--") {
      paths.push(...rest.slice(i + 1).map((p) => under(dir, p)))
      break
    }
    if (arg === "-" || !arg.startsWith("-")) {
      operands.push(arg)
      continue
    }
    if (arg.startsWith("--")) {
      const eq = arg.indexOf("=")
      const name = (eq < 0 ? arg : arg.slice(0, eq)).slice(2)
      const spells = (option: string) => option === name || (name.length >= 3 && option.startsWith(name))
      if ((rules.textOptions ?? []).some(spells)) {
        if (eq < 0) i++
      } else if (eq >= 0 && !(rules.textEqualsOptions ?? []).some(spells)) {
        paths.push(under(dir, arg.slice(eq + 1)))
      }
      // without "=", a value in the next word (if the option takes one) is read as an operand: confined
      continue
    }
    const program = Array.from(arg.slice(1)).find((letter) => rules.programLetters?.includes(letter))
    if (program !== undefined) return refusalOf("git", `${subcommand} ${arg}`, namesProgram)
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!
      if (rules.flags?.includes(letter) || /\d/.test(letter)) continue
      if (rules.textLetters?.includes(letter)) {
        if (j === arg.length - 1) i++
        break
      }
      // unknown here: whatever follows it (or a letter after it) in the group may be a value
      for (let k = j + 1; k < arg.length && /[A-Za-z0-9]/.test(arg[k - 1]!); k++) paths.push(under(dir, arg.slice(k)))
      break
    }
  }
  // (any -e or -f in a group counts, so the first operand is taken for a pattern only when none can be one)
  const patternGiven = rest.some((arg) => /^-[^-]*[ef]/.test(arg) || namesOption(arg, ["--regexp", "--file"]))
  const files = rules.patternOperand === true && !patternGiven ? operands.slice(1) : operands
  paths.push(...files.map((p) => under(dir, p)))
  return { args: withoutDiffPrograms(args, at), paths }
}

/** diff drivers and textconv filters named by a repository's configuration run programs: never them. */
const withoutDiffPrograms = (args: ReadonlyArray<string>, at: number) =>
  ["diff", "log", "show"].includes(args[at] ?? "") ? [...args.slice(0, at + 1), "--no-ext-diff", "--no-textconv", ...args.slice(at + 1)] : args

// ---------------------------------------------------------------------------------------------------------
// Programs without a table (ones an operator adds)

/** The word an argument names: itself, the value of `--opt=value`, or the file of `@file`. */
const operandOf = (arg: string) => {
  const value = arg.startsWith("-") ? (arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : "") : arg
  return value.startsWith("@") ? value.slice(1) : value
}

const looksLikePath = (value: string) =>
  !value.includes("://") && (value.startsWith("/") || value.startsWith("~") || value.split(/[\\/]/).includes(".."))

/** The tails of a short-option group (`-fnotes`, `-rfdata/x`) after each of its letters: the values it may name. */
const attachedValues = (arg: string) => {
  const tails: Array<string> = []
  if (!arg.startsWith("-") || arg.startsWith("--")) return tails
  for (let i = 2; i < arg.length && /[A-Za-z]/.test(arg[i - 1]!); i++) tails.push(arg.slice(i))
  return tails
}

/** Path-looking words: plain arguments, values of `--option=value`, `@file` and attached values. */
const genericPaths = (args: ReadonlyArray<string>) =>
  args.flatMap((arg) => [operandOf(arg), ...attachedValues(arg)]).filter((value) => value !== "" && looksLikePath(value))

const genericOperands = (args: ReadonlyArray<string>) =>
  args.flatMap((arg) => [operandOf(arg), ...attachedValues(arg)]).filter((word) => word !== "" && !word.includes("://"))

// ---------------------------------------------------------------------------------------------------------

const fileTables: Readonly<Record<string, OptionTable>> = { grep: grepTable, cat: catTable, head: headTable, tail: tailTable, ls: lsTable }

export const planCommand = (command: string, args: ReadonlyArray<string>, settings: CommandSettings): CommandPlan => {
  const refuse = (refusal: string): CommandPlan => ({ refusal, args, paths: [], operands: [] })
  const planned = (parsed: Confinement | string): CommandPlan => (typeof parsed === "string" ? refuse(parsed) : { args, ...parsed })
  if (controlCharacter.test(command)) return refuse("the command name contains a control character")
  const badArg = args.findIndex((arg) => controlCharacter.test(arg))
  if (badArg >= 0) return refuse(`argument ${badArg + 1} contains a control character (newline, NUL, ...)`)
  if (!programName.test(command)) return refuse(`"${command}" is not a program name; give the name alone (no path, no shell syntax)`)
  if (!settings.allowedCommands.includes(command)) {
    return refuse(`"${command}" is not allowed; allowed programs are ${settings.allowedCommands.join(", ")} (tools.allowedCommands)`)
  }
  const table = Object.hasOwn(fileTables, command) ? fileTables[command] : undefined
  if (table !== undefined) return planned(planFiles(command, table, args))
  switch (command) {
    case "find":
      return planned(planFind(args))
    case "docker":
      return planned(planDocker(args, settings.allowedDockerSubcommands))
    case "git": {
      const parsed = planGit(args)
      return typeof parsed === "string" ? refuse(parsed) : { args: parsed.args, paths: parsed.paths, operands: [] }
    }
    case "curl": {
      const config = args.find((arg) => namesOption(arg, ["--config"]) || /^-[A-Za-z]*K/.test(arg))
      if (config !== undefined) return refuse(`curl ${config} is refused: it reads options from a file`)
      return refuse(
        "curl is refused: its URL globs and lists, file:, dict: and gopher: URLs, redirects, proxies and config files " +
          "cannot be confined from its arguments; use fetch_url, which checks every address against tools.network"
      )
    }
    case "ping":
      return refuse(
        "ping is refused: it reaches any address the router's host can, and execute_command cannot hold it to " +
          "tools.network; fetch_url checks an address against it"
      )
    default:
      return { args, paths: genericPaths(args), operands: genericOperands(args) }
  }
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Where a path argument really leads, from the folder `base`: a program's `..` goes up from where the
 * folder before it really is (after symbolic links), as the kernel resolves it, where path.resolve would
 * merely drop the name before it (`link/../x`). Parts that do not exist are taken as written.
 */
export const physicalPath = async (base: string, word: string): Promise<string> => {
  let current = path.isAbsolute(word) ? path.parse(base).root : base
  for (const name of word.split("/")) {
    if (name === "" || name === ".") continue
    if (name === "..") {
      const real = await fs.realpath(current).catch(() => current)
      current = path.dirname(real)
    } else {
      current = path.join(current, name)
    }
  }
  return current
}

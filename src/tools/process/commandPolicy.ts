/**
 * What execute_command may run. An allowlist is only as good as its arguments, so besides the program
 * name this refuses the arguments that turn an allowed program into arbitrary execution or writes outside
 * the sandbox, and names the arguments that are paths so the caller can confine them.
 */

export interface CommandSettings {
  readonly allowedCommands: ReadonlyArray<string>
  readonly allowedDockerSubcommands: ReadonlyArray<string>
}

export interface CommandPlan {
  /** Why the command is refused, when it is. */
  readonly refusal?: string
  /** The arguments to run with (git's diff, log and show get --no-ext-diff --no-textconv). */
  readonly args: ReadonlyArray<string>
  /** Arguments (or option values) that are paths and must stay inside the working directory. */
  readonly paths: ReadonlyArray<string>
  /**
   * Every other word that could name a file: when something exists there (a symbolic link, say), it
   * must stay inside the working directory too.
   */
  readonly operands: ReadonlyArray<string>
}

const controlCharacter = /[\u0000-\u001f\u007f]/
const programName = /^[A-Za-z0-9._+-]+$/

const findActions = new Set(["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"])

// the git subcommands that may run: builtins only, so an alias (which can run anything) never does, and
// none of those that run other programs, edit configuration or serve repositories
const gitAllowedSubcommands = new Set([
  "status", "log", "show", "diff", "branch", "tag", "rev-parse", "rev-list", "ls-files", "ls-tree", "cat-file", "blame",
  "describe", "shortlog", "reflog", "grep", "remote", "add", "rm", "mv", "commit", "checkout", "switch", "restore", "reset",
  "stash", "merge", "rebase", "cherry-pick", "revert", "fetch", "pull", "push", "init", "clone", "archive", "notes",
  "version", "help", "count-objects", "for-each-ref", "show-ref", "name-rev", "merge-base", "diff-tree", "diff-files", "diff-index"
])
// options that name a program to run (git accepts unique prefixes of long options, so prefixes count)
const gitForbiddenOptions = [
  "--exec-path", "--upload-pack", "--receive-pack", "--exec", "--extcmd", "--config-env", "--tool", "--open-files-in-pager", "--template"
]
const gitPathOptions = new Set(["-C", "--git-dir", "--work-tree", "--output", "-o", "--file", "-F"])

const dockerForbiddenGlobals = new Set(["-H", "--host", "--context", "-c", "--config"])

// curl's short options that take a value, and those whose value is a file
const curlValueLetters = "oKTDcbEdFHuxAeXwrmUYyzCQt"
const curlPathLetters = "oTDcbE"
const curlPathOptions = new Set([
  "-o", "--output", "--output-dir", "-T", "--upload-file", "-D", "--dump-header", "-c", "--cookie-jar", "-b", "--cookie",
  "--trace", "--trace-ascii", "--stderr", "--libcurl", "--cacert", "--cert", "--key", "--netrc-file", "-E"
])

/** `--name` or `--name=value` where `--name` spells one of `options`, or a prefix of it git would accept. */
const namesOption = (arg: string, options: ReadonlyArray<string>) => {
  if (!arg.startsWith("--")) return false
  const name = arg.split("=")[0]!
  return options.some((option) => option === name || (name.length >= 4 && option.startsWith(name)))
}

/** In a short-option group such as `-sKopts`, the letter in `letters` that takes a value, and that value. */
const shortValue = (arg: string, letters: string): { readonly letter: string; readonly value: string | undefined } | undefined => {
  if (!/^-[A-Za-z]/.test(arg)) return undefined
  for (let i = 1; i < arg.length; i++) {
    if (letters.includes(arg[i]!)) return { letter: arg[i]!, value: arg.slice(i + 1) || undefined }
  }
  return undefined
}

/** The word an argument names: itself, the value of `--opt=value`, or the file of `@file`. */
const operandOf = (arg: string) => {
  const value = arg.startsWith("-") ? (arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : "") : arg
  return value.startsWith("@") ? value.slice(1) : value
}

export const insideGitFolder = (value: string) => value.split(/[\\/]/).some((name) => name.toLowerCase() === ".git")

const looksLikePath = (value: string) =>
  !value.includes("://") && (value.startsWith("/") || value.startsWith("~") || value.split(/[\\/]/).includes(".."))

/** Path-looking words: plain arguments, values of `--option=value` and `@file`. */
const genericPaths = (args: ReadonlyArray<string>) =>
  args.flatMap((arg) => {
    const value = operandOf(arg)
    return value !== "" && looksLikePath(value) ? [value] : []
  })

/** Values of options that always take a path, in `-o value`, `--output value` and `--output=value` forms. */
const optionValues = (args: ReadonlyArray<string>, options: ReadonlySet<string>) =>
  args.flatMap((arg, i) => {
    if (options.has(arg)) return args[i + 1] === undefined ? [] : [args[i + 1]!]
    const eq = arg.indexOf("=")
    return eq > 0 && options.has(arg.slice(0, eq)) ? [arg.slice(eq + 1)] : []
  })

/** Index of the first argument that is not an option (nor an option's value). */
const firstOperandIndex = (args: ReadonlyArray<string>, optionsWithValue: ReadonlySet<string>) => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (optionsWithValue.has(arg)) i++
    else if (!arg.startsWith("-")) return i
  }
  return -1
}

const firstOperand = (args: ReadonlyArray<string>, optionsWithValue: ReadonlySet<string>) =>
  args[firstOperandIndex(args, optionsWithValue)]

const gitGlobalOptionsWithValue = new Set(["-C", "--git-dir", "--work-tree", "--namespace"])

const gitRefusal = (args: ReadonlyArray<string>): string | undefined => {
  const configOption = args.find((arg) => arg === "-c" || (arg.startsWith("-c") && !arg.startsWith("--")))
  if (configOption !== undefined) return `git ${configOption} is refused: -c can make git run any program`
  const forbidden = args.find((arg) => namesOption(arg, gitForbiddenOptions))
  if (forbidden !== undefined) return `git ${forbidden} is refused: it names a program for git to run`
  const subcommand = firstOperand(args, gitGlobalOptionsWithValue)
  if (subcommand !== undefined && !gitAllowedSubcommands.has(subcommand)) {
    return `git ${subcommand} is refused: allowed git subcommands are ${Array.from(gitAllowedSubcommands).join(", ")}`
  }
  const programOption = subcommand === "rebase" ? "x" : subcommand === "grep" ? "O" : subcommand === "clone" || subcommand === "archive" ? "u" : undefined
  const named = programOption === undefined ? undefined : args.find((arg) => shortValue(arg, programOption) !== undefined)
  if (named !== undefined) return `git ${subcommand} ${named} is refused: it names a program for git to run`
  return undefined
}

/** diff drivers and textconv filters named by a repository's configuration run programs: never them. */
const withoutDiffPrograms = (args: ReadonlyArray<string>) => {
  const at = firstOperandIndex(args, gitGlobalOptionsWithValue)
  return ["diff", "log", "show"].includes(args[at] ?? "") ? [...args.slice(0, at + 1), "--no-ext-diff", "--no-textconv", ...args.slice(at + 1)] : args
}

const dockerRefusal = (args: ReadonlyArray<string>, allowed: ReadonlyArray<string>): string | undefined => {
  const global = args.find((arg) => dockerForbiddenGlobals.has(arg.split("=")[0]!) || shortValue(arg, "Hc") !== undefined)
  if (global !== undefined) return `docker ${global} is refused: it changes which daemon or credentials docker uses`
  const subcommand = firstOperand(args, new Set(["--log-level", "-l"]))
  if (subcommand === undefined) return undefined
  return allowed.includes(subcommand)
    ? undefined
    : `docker ${subcommand} is refused: allowed docker subcommands are ${allowed.join(", ")} (tools.allowedDockerSubcommands)`
}

export const planCommand = (command: string, args: ReadonlyArray<string>, settings: CommandSettings): CommandPlan => {
  const refuse = (refusal: string): CommandPlan => ({ refusal, args, paths: [], operands: [] })
  if (controlCharacter.test(command)) return refuse("the command name contains a control character")
  const badArg = args.findIndex((arg) => controlCharacter.test(arg))
  if (badArg >= 0) return refuse(`argument ${badArg + 1} contains a control character (newline, NUL, ...)`)
  if (!programName.test(command)) return refuse(`"${command}" is not a program name; give the name alone (no path, no shell syntax)`)
  if (!settings.allowedCommands.includes(command)) {
    return refuse(`"${command}" is not allowed; allowed programs are ${settings.allowedCommands.join(", ")} (tools.allowedCommands)`)
  }
  const paths = genericPaths(args)
  const plain = { args, paths, operands: args.map(operandOf).filter((word) => word !== "" && !word.includes("://")) }
  switch (command) {
    case "find": {
      const action = args.find((arg) => findActions.has(arg))
      return action === undefined ? plain : refuse(`find ${action} is refused: it runs programs or writes files`)
    }
    case "git": {
      const refusal = gitRefusal(args)
      return refusal === undefined
        ? { ...plain, args: withoutDiffPrograms(args), paths: [...paths, ...optionValues(args, gitPathOptions)] }
        : refuse(refusal)
    }
    case "docker": {
      const refusal = dockerRefusal(args, settings.allowedDockerSubcommands)
      return refusal === undefined ? plain : refuse(refusal)
    }
    case "curl": {
      const forbidden = args.find((arg) => namesOption(arg, ["--config"]) || shortValue(arg, curlValueLetters)?.letter === "K")
      if (forbidden !== undefined) return refuse(`curl ${forbidden} is refused: it reads options from a file`)
      const fileUrl = args.find((arg) => /^file:/i.test(arg))
      if (fileUrl !== undefined) return refuse("curl file: URLs are refused; use read_file")
      const attached = args.flatMap((arg) => {
        const short = shortValue(arg, curlValueLetters)
        return short?.value !== undefined && curlPathLetters.includes(short.letter) ? [short.value] : []
      })
      const files = [...optionValues(args, curlPathOptions), ...attached]
      if (files.some(insideGitFolder)) return refuse("curl may not read or write files inside a .git folder: repository configuration can run programs")
      return { ...plain, paths: [...paths, ...files] }
    }
    default:
      return plain
  }
}

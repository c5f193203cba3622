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
  /** Arguments (or option values) that are paths and must stay inside the working directory. */
  readonly paths: ReadonlyArray<string>
}

const controlCharacter = /[\u0000-\u001f\u007f]/
const programName = /^[A-Za-z0-9._+-]+$/

const findActions = new Set(["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"])

// subcommands that run other programs, edit configuration or serve repositories
const gitForbiddenSubcommands = new Set([
  "config", "filter-branch", "bisect", "submodule", "daemon", "instaweb", "difftool", "mergetool", "send-email",
  "credential", "credential-store", "credential-cache", "archimport", "cvsserver", "cvsimport", "cvsexportcommit",
  "svn", "p4", "quiltimport", "web--browse", "upload-pack", "receive-pack", "upload-archive", "shell", "http-backend",
  "fsmonitor--daemon", "hook", "alias"
])
// options that name a program to run, anywhere on the line
const gitForbiddenOptions = ["--exec-path", "--upload-pack", "--receive-pack", "--exec", "--extcmd", "--config-env", "--tool"]
const gitPathOptions = new Set(["-C", "--git-dir", "--work-tree", "--output", "-o", "--file", "-F"])

const dockerForbiddenGlobals = new Set(["-H", "--host", "--context", "-c", "--config"])

const curlForbidden = new Set(["-K", "--config"])
const curlPathOptions = new Set([
  "-o", "--output", "--output-dir", "-T", "--upload-file", "-D", "--dump-header", "-c", "--cookie-jar", "-b", "--cookie",
  "--trace", "--trace-ascii", "--stderr", "--libcurl", "--cacert", "--cert", "--key", "--netrc-file", "-E"
])

const looksLikePath = (value: string) =>
  !value.includes("://") && (value.startsWith("/") || value.startsWith("~") || value.split(/[\\/]/).includes(".."))

/** Plain path-looking arguments, and the value of `--option=value` when that looks like a path. */
const genericPaths = (args: ReadonlyArray<string>) =>
  args.flatMap((arg) => {
    const value = arg.startsWith("-") && arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : arg
    return looksLikePath(value) ? [value] : []
  })

/** Values of options that always take a path, in `-o value`, `--output value` and `--output=value` forms. */
const optionValues = (args: ReadonlyArray<string>, options: ReadonlySet<string>) =>
  args.flatMap((arg, i) => {
    if (options.has(arg)) return args[i + 1] === undefined ? [] : [args[i + 1]!]
    const eq = arg.indexOf("=")
    return eq > 0 && options.has(arg.slice(0, eq)) ? [arg.slice(eq + 1)] : []
  })

const hasOption = (args: ReadonlyArray<string>, names: ReadonlyArray<string>) =>
  args.find((arg) => names.some((name) => arg === name || arg.startsWith(`${name}=`)))

const firstOperand = (args: ReadonlyArray<string>, optionsWithValue: ReadonlySet<string>) => {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    if (optionsWithValue.has(arg)) i++
    else if (!arg.startsWith("-")) return arg
  }
  return undefined
}

const gitRefusal = (args: ReadonlyArray<string>): string | undefined => {
  const configOption = args.find((arg) => arg === "-c" || (arg.startsWith("-c") && !arg.startsWith("--")))
  if (configOption !== undefined) return `git ${configOption} is refused: -c can make git run any program`
  const forbidden = hasOption(args, gitForbiddenOptions)
  if (forbidden !== undefined) return `git ${forbidden} is refused: it names a program for git to run`
  const subcommand = firstOperand(args, new Set(["-C", "--git-dir", "--work-tree", "--namespace"]))
  if (subcommand !== undefined && gitForbiddenSubcommands.has(subcommand)) {
    return `git ${subcommand} is refused: it can run other programs or change git's configuration`
  }
  if ((subcommand === "rebase" && args.includes("-x")) || ((subcommand === "clone" || subcommand === "ls-remote" || subcommand === "archive") && args.includes("-u"))) {
    return `git ${subcommand} with ${subcommand === "rebase" ? "-x" : "-u"} is refused: it names a program for git to run`
  }
  return undefined
}

const dockerRefusal = (args: ReadonlyArray<string>, allowed: ReadonlyArray<string>): string | undefined => {
  const global = args.find((arg) => dockerForbiddenGlobals.has(arg.split("=")[0]!))
  if (global !== undefined) return `docker ${global} is refused: it changes which daemon or credentials docker uses`
  const subcommand = firstOperand(args, new Set(["--log-level", "-l"]))
  if (subcommand === undefined) return undefined
  return allowed.includes(subcommand)
    ? undefined
    : `docker ${subcommand} is refused: allowed docker subcommands are ${allowed.join(", ")} (tools.allowedDockerSubcommands)`
}

export const planCommand = (command: string, args: ReadonlyArray<string>, settings: CommandSettings): CommandPlan => {
  const refuse = (refusal: string): CommandPlan => ({ refusal, paths: [] })
  if (controlCharacter.test(command)) return refuse("the command name contains a control character")
  const badArg = args.findIndex((arg) => controlCharacter.test(arg))
  if (badArg >= 0) return refuse(`argument ${badArg + 1} contains a control character (newline, NUL, ...)`)
  if (!programName.test(command)) return refuse(`"${command}" is not a program name; give the name alone (no path, no shell syntax)`)
  if (!settings.allowedCommands.includes(command)) {
    return refuse(`"${command}" is not allowed; allowed programs are ${settings.allowedCommands.join(", ")} (tools.allowedCommands)`)
  }
  const paths = genericPaths(args)
  switch (command) {
    case "find": {
      const action = args.find((arg) => findActions.has(arg))
      return action === undefined ? { paths } : refuse(`find ${action} is refused: it runs programs or writes files`)
    }
    case "git": {
      const refusal = gitRefusal(args)
      return refusal === undefined ? { paths: [...paths, ...optionValues(args, gitPathOptions)] } : refuse(refusal)
    }
    case "docker": {
      const refusal = dockerRefusal(args, settings.allowedDockerSubcommands)
      return refusal === undefined ? { paths } : refuse(refusal)
    }
    case "curl": {
      const forbidden = args.find((arg) => curlForbidden.has(arg.split("=")[0]!))
      if (forbidden !== undefined) return refuse(`curl ${forbidden} is refused: it reads options from a file`)
      const fileUrl = args.find((arg) => /^file:/i.test(arg))
      if (fileUrl !== undefined) return refuse("curl file: URLs are refused; use read_file")
      return { paths: [...paths, ...optionValues(args, curlPathOptions)] }
    }
    default:
      return { paths }
  }
}

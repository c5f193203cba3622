/**
 * What a child process may see of the router's environment and PATH. The environment is built from an
 * allowlist, so no MCP_* setting, key or token reaches a program; git gets settings that stop a
 * repository's own configuration from running programs (the model can write files, .git/config included).
 */
import * as fs from "node:fs"
import * as path from "node:path"

const passedThrough = ["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "DOCKER_HOST"]

const gitOverrides: ReadonlyArray<[string, string]> = [
  ["core.fsmonitor", "false"],
  ["core.hooksPath", "/dev/null"],
  ["core.pager", "cat"],
  ["core.editor", "true"],
  ["core.sshCommand", "false"],
  ["protocol.ext.allow", "never"],
  ["protocol.file.allow", "never"],
  ["credential.helper", ""]
]

/**
 * `root` is the working directory: git may find a repository in it, never in a folder above it.
 */
export const childEnvironment = (root: string, source: Readonly<Record<string, string | undefined>> = process.env): Record<string, string> => {
  const env: Record<string, string> = {}
  for (const name of passedThrough) {
    const value = source[name]
    if (value !== undefined) env[name] = value
  }
  Object.assign(env, {
    TERM: "dumb",
    PAGER: "cat",
    GIT_PAGER: "cat",
    GIT_TERMINAL_PROMPT: "0",
    GIT_CONFIG_NOSYSTEM: "1",
    GIT_CEILING_DIRECTORIES: path.dirname(root),
    GIT_CONFIG_COUNT: String(gitOverrides.length)
  })
  gitOverrides.forEach(([key, value], i) => {
    env[`GIT_CONFIG_KEY_${i}`] = key
    env[`GIT_CONFIG_VALUE_${i}`] = value
  })
  return env
}

/** The absolute path of an executable named `program` on PATH, if there is one. */
export const findOnPath = (program: string, searchPath: string = process.env.PATH ?? ""): string | undefined => {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === "") continue
    const candidate = path.join(dir, program)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      if (fs.statSync(candidate).isFile()) return candidate
    } catch {
      // not here; keep looking
    }
  }
  return undefined
}

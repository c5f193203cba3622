/**
 * Permissions of a key: `read` (tool lists, stats, metrics, logs), `execute` (call any tool),
 * `tools:<glob>` (call matching tools only), `admin` (config, keys, audit), `*` (everything).
 */
import * as Schema from "effect/Schema"
import { globToRegExp } from "../tools/files/glob.ts"

export const Permission = Schema.String.check(
  Schema.isPattern(/^(read|execute|admin|\*|tools:[A-Za-z0-9_.*?\[\]{},-]+)$/u, {
    message: "Expected read, execute, admin, * or tools:<glob> (e.g. tools:read_*)"
  } as never)
)

export type Requirement =
  | { readonly kind: "read" }
  | { readonly kind: "admin" }
  | { readonly kind: "tool"; readonly name: string }

export const needRead: Requirement = { kind: "read" }
export const needAdmin: Requirement = { kind: "admin" }
export const needTool = (name: string): Requirement => ({ kind: "tool", name })

const toolGlobCache = new Map<string, RegExp>()
const toolGlob = (glob: string) => {
  let regex = toolGlobCache.get(glob)
  if (regex === undefined) toolGlobCache.set(glob, regex = globToRegExp(glob))
  return regex
}

export const allows = (permissions: ReadonlyArray<string>, need: Requirement): boolean =>
  permissions.some((permission) => {
    if (permission === "*") return true
    switch (need.kind) {
      case "read":
        // an administrator may also look; running tools does not grant reading logs and stats
        return permission === "read" || permission === "admin"
      case "admin":
        return permission === "admin"
      case "tool":
        return permission === "execute" || (permission.startsWith("tools:") && toolGlob(permission.slice(6)).test(need.name))
    }
  })

export const describeRequirement = (need: Requirement) =>
  need.kind === "tool" ? `execute (or tools:<glob> matching ${need.name})` : need.kind

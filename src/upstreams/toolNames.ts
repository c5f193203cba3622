/**
 * Names the router gives upstream tools: `<prefix>__<tool>`. Many clients reject names over 64
 * characters or outside [A-Za-z0-9_-]; a name that would break those rules, or collide, is shortened
 * deterministically with a hash of the upstream and tool, so it stays the same across restarts.
 * An unprefixed upstream (`"prefix": ""`) offers its tools under their own names: one whose name is
 * taken is refused, never renamed.
 */
import { createHash } from "node:crypto"

export const separator = "__"
export const maxToolNameLength = 64

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 8)

const sanitize = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, "_")

export interface ExposedNames {
  /** Upstream tool name → exposed name. */
  readonly names: ReadonlyMap<string, string>
  /** Tools of an unprefixed upstream left out, with what already has their name. */
  readonly refused: ReadonlyArray<{ readonly tool: string; readonly takenBy: string }>
}

/**
 * The exposed names of one upstream's tools, given the names already taken by other tools (name →
 * what has it, as a user reads it: `upstream "x"`, `a built-in tool`).
 */
export const exposedNames = (
  upstream: string,
  prefix: string,
  tools: ReadonlyArray<string>,
  taken: ReadonlyMap<string, string>
): ExposedNames => {
  const names = new Map<string, string>()
  if (prefix === "") {
    const refused: Array<{ readonly tool: string; readonly takenBy: string }> = []
    for (const tool of tools) {
      if (names.has(tool)) continue
      const takenBy = taken.get(tool)
      if (takenBy === undefined) names.set(tool, tool)
      else refused.push({ tool, takenBy })
    }
    return { names, refused }
  }
  const used = new Set(taken.keys())
  for (const tool of [...tools].sort()) {
    const plain = `${prefix}${separator}${sanitize(tool)}`
    let exposed = plain
    if (plain.length > maxToolNameLength || used.has(plain) || plain !== `${prefix}${separator}${tool}`) {
      const suffix = `_${hash(`${upstream}/${tool}`)}`
      exposed = `${plain.slice(0, maxToolNameLength - suffix.length)}${suffix}`
    }
    used.add(exposed)
    names.set(tool, exposed)
  }
  return { names, refused: [] }
}

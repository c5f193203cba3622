/**
 * Names the router gives upstream tools: `<prefix>__<tool>`. Many clients reject names over 64
 * characters or outside [A-Za-z0-9_-]; a name that would break those rules, or collide, is shortened
 * deterministically with a hash of the upstream and tool, so it stays the same across restarts.
 */
import { createHash } from "node:crypto"

export const separator = "__"
export const maxToolNameLength = 64

const hash = (text: string) => createHash("sha256").update(text).digest("hex").slice(0, 8)

const sanitize = (name: string) => name.replace(/[^A-Za-z0-9_.-]/g, "_")

/**
 * The exposed names of one upstream's tools, given the names already taken by other tools.
 * Returns upstream tool name → exposed name.
 */
export const exposedNames = (
  upstream: string,
  prefix: string,
  tools: ReadonlyArray<string>,
  taken: ReadonlySet<string>
): ReadonlyMap<string, string> => {
  const names = new Map<string, string>()
  const used = new Set(taken)
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
  return names
}

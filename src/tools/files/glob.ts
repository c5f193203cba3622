/**
 * Glob patterns as regular expressions: `*` and `?` within a name, `**` across folders, `[abc]` and
 * `{a,b}`. Unlike path.matchesGlob, a leading dot is matched like any character: whether hidden files
 * are searched is decided by includeHidden, not by the pattern.
 */
const special = /[.+^$()|\\]/

export const globToRegExp = (glob: string): RegExp => {
  let out = ""
  let braces = 0
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!
    if (c === "*") {
      if (glob[i + 1] === "*") {
        const slash = glob[i + 2] === "/"
        out += slash ? "(?:.*/)?" : ".*"
        i += slash ? 2 : 1
      } else {
        out += "[^/]*"
      }
    } else if (c === "?") out += "[^/]"
    else if (c === "[") {
      const end = glob.indexOf("]", i + 1)
      if (end < 0) out += "\\["
      else {
        const body = glob.slice(i + 1, end).replace(/^!/, "^").replace(/\\/g, "\\\\")
        out += `[${body}]`
        i = end
      }
    } else if (c === "{") {
      braces++
      out += "(?:"
    } else if (c === "}" && braces > 0) {
      braces--
      out += ")"
    } else if (c === "," && braces > 0) out += "|"
    else out += special.test(c) ? `\\${c}` : c
  }
  return new RegExp(`^${out}${")".repeat(braces)}$`)
}

/**
 * A git configuration file, read the way git reads it (config.c: git_parse_source, get_base_var,
 * get_value, parse_value), so that what this module sees is what git would run with:
 *
 * - `[section]`, `[section "subsection"]` (subsection case-sensitive; `\"` and `\\` escapes, any other
 *   backslash drops itself) and the old `[section.subsection]` (lowercased);
 * - a variable may follow its section header on the same line (`[core] pager = x`);
 * - `name` alone is a boolean true; names are letters, digits and `-`, case-insensitive;
 * - values: surrounding blanks dropped, inner runs kept, `"` toggles quoting, `#` and `;` start a comment
 *   outside quotes, escapes `\\ \" \n \t \b`, a backslash before the end of the line continues it;
 * - CRLF line ends and a UTF-8 byte-order mark are accepted.
 *
 * Anything git would reject (an unknown escape, a newline inside quotes, a bad header) makes the whole
 * file unreadable here too: git stops on it, and a caller must not guess what it meant.
 */

export interface ConfigEntry {
  /** Lowercased. */
  readonly section: string
  /** As written (case-sensitive), or undefined. */
  readonly subsection: string | undefined
  /** Lowercased. */
  readonly name: string
  /** undefined for a bare `name` (boolean true). */
  readonly value: string | undefined
  /** `section.subsection.name`, section and name lowercased, for messages. */
  readonly key: string
  readonly line: number
}

export class ConfigSyntaxError extends Error {
  readonly line: number
  constructor(line: number, reason: string) {
    super(`line ${line}: ${reason}`)
    this.line = line
  }
}

const isKeyChar = (c: string) => /^[A-Za-z0-9-]$/.test(c)
const isAlpha = (c: string) => /^[A-Za-z]$/.test(c)
// git's isspace: space, \t, \n, \v, \f, \r
const isSpace = (c: string) => c === " " || c === "\t" || c === "\n" || c === "\v" || c === "\f" || c === "\r"

/** Parses `text` (one config file); throws ConfigSyntaxError where git would stop. */
export const parseGitConfig = (text: string): ReadonlyArray<ConfigEntry> => {
  let at = text.startsWith("\uFEFF") ? 1 : 0
  let line = 1
  let eof = false
  // git's get_next_char: "\r\n" reads as "\n", the end of the text as a final "\n"
  const next = (): string => {
    if (at >= text.length) {
      eof = true
      return "\n"
    }
    let c = text[at++]!
    if (c === "\r" && text[at] === "\n") c = text[at++]!
    if (c === "\n") line++
    return c
  }
  const fail = (reason: string): never => {
    throw new ConfigSyntaxError(line, reason)
  }

  const entries: Array<ConfigEntry> = []
  let section: string | undefined
  let subsection: string | undefined

  const readHeader = () => {
    let name = ""
    for (;;) {
      const c = next()
      if (eof) fail("unfinished section header")
      if (c === "]") break
      if (isSpace(c)) {
        // [section "subsection"]
        let d = c
        do {
          if (d === "\n") fail("unfinished section header")
          d = next()
        } while (isSpace(d))
        if (d !== "\"") fail("a subsection must be quoted")
        let sub = ""
        for (;;) {
          let e = next()
          if (e === "\n") fail("unfinished subsection")
          if (e === "\"") break
          if (e === "\\") {
            e = next()
            if (e === "\n") fail("unfinished subsection")
          }
          sub += e
        }
        if (next() !== "]") fail("a section header must end with ]")
        if (name === "") fail("empty section name")
        section = name
        subsection = sub
        return
      }
      if (!isKeyChar(c) && c !== ".") fail(`bad character ${JSON.stringify(c)} in a section name`)
      name += c.toLowerCase()
    }
    if (name === "") fail("empty section name")
    // the old [section.subsection] spelling
    const dot = name.indexOf(".")
    section = dot < 0 ? name : name.slice(0, dot)
    subsection = dot < 0 ? undefined : name.slice(dot + 1)
  }

  const readValue = (): string => {
    let value = ""
    let quote = false
    let comment = false
    let spaces = ""
    for (;;) {
      let c = next()
      if (c === "\n") {
        if (quote) fail("a quoted value runs past the end of the line")
        return value
      }
      if (comment) continue
      if (isSpace(c) && !quote) {
        if (value.length > 0) spaces += " "
        continue
      }
      if (!quote && (c === ";" || c === "#")) {
        comment = true
        continue
      }
      value += spaces
      spaces = ""
      if (c === "\\") {
        c = next()
        switch (c) {
          case "\n":
            continue
          case "t":
            c = "\t"
            break
          case "b":
            c = "\b"
            break
          case "n":
            c = "\n"
            break
          case "\\":
          case "\"":
            break
          default:
            fail(`unknown escape \\${c}`)
        }
        value += c
        continue
      }
      if (c === "\"") {
        quote = !quote
        continue
      }
      value += c
    }
  }

  let comment = false
  for (;;) {
    const c = next()
    if (c === "\n") {
      if (eof) return entries
      comment = false
      continue
    }
    if (comment || isSpace(c)) continue
    if (c === "#" || c === ";") {
      comment = true
      continue
    }
    if (c === "[") {
      readHeader()
      continue
    }
    if (!isAlpha(c)) fail(`bad character ${JSON.stringify(c)}`)
    const entryLine = line
    let name = c.toLowerCase()
    let d: string
    for (;;) {
      d = next()
      if (eof || !isKeyChar(d)) break
      name += d.toLowerCase()
    }
    while (d === " " || d === "\t") d = next()
    let value: string | undefined
    if (d !== "\n") {
      if (d !== "=") fail(`expected = after ${name}`)
      value = readValue()
    }
    // a variable before any section is read by git as a key without a section (and never looked up)
    entries.push({
      section: section ?? "",
      subsection,
      name,
      value,
      key: section === undefined ? name : subsection === undefined ? `${section}.${name}` : `${section}.${subsection}.${name}`,
      line: entryLine
    })
    if (eof) return entries
  }
}

/** git's boolean spellings of false (a bare name is true). */
export const isFalse = (value: string | undefined) =>
  value !== undefined && ["false", "no", "off", "0", ""].includes(value.trim().toLowerCase())

/** The last value of `section[.subsection].name` (git's "last one wins"), or undefined. */
export const lastValue = (
  entries: ReadonlyArray<ConfigEntry>,
  section: string,
  subsection: string | undefined,
  name: string
): string | undefined => {
  let found: string | undefined
  for (const entry of entries) {
    if (entry.section === section && entry.subsection === subsection && entry.name === name) found = entry.value ?? "true"
  }
  return found
}

/** Every value of a multi-valued variable, in order. */
export const allValues = (
  entries: ReadonlyArray<ConfigEntry>,
  section: string,
  subsection: string | undefined,
  name: string
): ReadonlyArray<string> =>
  entries.filter((e) => e.section === section && e.subsection === subsection && e.name === name).map((e) => e.value ?? "true")

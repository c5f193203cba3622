/**
 * Names as text output prints them: control characters (a newline could forge a line) and
 * bidirectional controls (U+202E could reverse what a reader sees) are shown as escapes, so one name
 * is one line and reads as it is. structuredContent keeps the exact names.
 */

// C0, DEL, C1, and the Unicode bidirectional and invisible formatting controls
const unsafe = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/gu

const escape = (char: string) => {
  switch (char) {
    case "\n":
      return "\\n"
    case "\r":
      return "\\r"
    case "\t":
      return "\\t"
    default: {
      const code = char.codePointAt(0)!
      return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16).padStart(4, "0")}`
    }
  }
}

/** The name with its unsafe characters escaped, and the backslash itself doubled so escapes are unambiguous. */
export const printableName = (name: string): string => {
  unsafe.lastIndex = 0
  return unsafe.test(name) || name.includes("\\") ? name.replaceAll("\\", "\\\\").replace(unsafe, escape) : name
}

/**
 * parseGitConfig against git itself: for each text, the variables and values must be exactly those
 * `git config --file <text> --list -z` reports, and a text git rejects must be rejected. The texts are the
 * syntax a hostile configuration could use to hide a program from a careless reader.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, describe, it } from "vitest"
import { parseGitConfig } from "../../../src/tools/git/gitConfig.ts"

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mcp-git-config-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

/** What git reads from `text`: [key, value | undefined] pairs, or "error". */
const gitReads = (text: string): Array<[string, string | undefined]> | "error" => {
  const file = path.join(dir, "config")
  fs.writeFileSync(file, text)
  try {
    const out = execFileSync("git", ["config", "--file", file, "--list", "-z"], {
      env: { ...process.env, GIT_CONFIG_GLOBAL: "/dev/null", GIT_CONFIG_NOSYSTEM: "1" },
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"]
    })
    return out.split("\0").filter((record) => record !== "").map((record) => {
      const nl = record.indexOf("\n")
      return nl < 0 ? [record, undefined] : [record.slice(0, nl), record.slice(nl + 1)]
    })
  } catch {
    return "error"
  }
}

const weRead = (text: string): Array<[string, string | undefined]> | "error" => {
  try {
    return parseGitConfig(text).map((e) => [e.key, e.value])
  } catch {
    return "error"
  }
}

const texts: Record<string, string> = {
  plain: "[core]\n\tbare = false\n\tfsmonitor = touch /tmp/x\n",
  "same line as the header": "[core] fsmonitor = touch /tmp/x\n",
  "header and variable without spaces": "[core]fsmonitor=touch /tmp/x",
  "upper case section and name": "[CoRe]\n\tFsMonitor = x\n",
  "quoted subsection keeps case": "[filter \"PwN\"]\n\tclean = id\n",
  "old dotted subsection is lowercased": "[filter.PwN]\n\tclean = id\n",
  "escapes in a subsection": "[filter \"a\\\"b\\\\c\\d\"]\n\tclean = id\n",
  "quoted value with comment characters": "[alias]\n\tx = \"!echo ; # not a comment\"\n",
  "comment after a value": "[core]\n\tpager = less # comment\n\teditor = vi ; comment\n",
  "inner spaces kept, outer dropped": "[core]\n\tpager =   a   b\t c   \n",
  "escapes in a value": "[core]\n\tpager = a\\tb\\nc\\\\d\\\"e\n",
  "continuation lines": "[core]\n\tfsmonitor = touch \\\n/tmp/x\n",
  "continuation inside quotes": "[core]\n\tfsmonitor = \"touch \\\n /tmp/x\"\n",
  "boolean without value": "[core]\n\tbare\n\tfilemode\n",
  "empty value": "[credential]\n\thelper =\n",
  "CRLF line ends": "[core]\r\n\tpager = less\r\n",
  "byte-order mark": "\uFEFF[core]\n\tpager = less\n",
  "comments and blank lines": "# top\n; also\n\n[core] ; header comment\n\n\tpager = x\n",
  "several sections and repeats": "[a]\nx = 1\n[b \"s\"]\ny = 2\n[a]\nx = 3\n",
  "dashes in names": "[my-section]\n\tsome-name = v\n",
  "section with subsection and dotted key": "[includeIf \"gitdir:/tmp/\"]\n\tpath = /tmp/evil\n",
  "unknown escape": "[core]\n\tpager = a\\qb\n",
  "newline inside quotes": "[core]\n\tpager = \"a\nb\"\n",
  "variable before any section": "pager = less\n",
  "bad header": "[core\n\tpager = less\n",
  "unquoted subsection": "[filter pwn]\n\tclean = id\n",
  "bad name character": "[core]\n\tpa_ger = x\n",
  "name starting with a digit": "[core]\n\t1pager = x\n",
  "missing equals": "[core]\n\tpager less\n",
  "text after a subsection": "[filter \"x\" ]\n\tclean = id\n"
}

describe("parseGitConfig reads what git reads", () => {
  for (const [name, text] of Object.entries(texts)) {
    it(name, () => {
      assert.deepStrictEqual(weRead(text), gitReads(text))
    })
  }

  it("keeps line numbers and splits section, subsection and name", () => {
    const entries = parseGitConfig("# c\n[Filter \"PwN\"]\n\tClean = id\n[core] pager = x\n")
    assert.deepStrictEqual(entries.map((e) => [e.section, e.subsection, e.name, e.line]), [["filter", "PwN", "clean", 3], ["core", undefined, "pager", 4]])
  })
})

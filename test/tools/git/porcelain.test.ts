/** parsePorcelainV2 on hand-written `git status --porcelain=v2 --branch -z` output. */
import { assert, describe, it } from "vitest"
import { parsePorcelainV2 } from "../../../src/tools/git/porcelain.ts"

const oid = "0123456789abcdef0123456789abcdef01234567"
const h1 = "1111111111111111111111111111111111111111"
const h2 = "2222222222222222222222222222222222222222"
const h3 = "3333333333333333333333333333333333333333"
const zero = "0000000000000000000000000000000000000000"

/** Joins records the way -z does: each one ends in NUL. */
const z = (...records: ReadonlyArray<string>) => records.map((r) => `${r}\0`).join("")

const header = (head = "main", commit = oid) => [`# branch.oid ${commit}`, `# branch.head ${head}`]

describe("parsePorcelainV2: headers", () => {
  it("a clean branch without upstream", () => {
    assert.deepStrictEqual(parsePorcelainV2(z(...header())), {
      branch: "main",
      detached: false,
      commit: oid,
      upstream: null,
      ahead: 0,
      behind: 0,
      staged: [],
      unstaged: [],
      untracked: [],
      conflicted: []
    })
  })

  it("upstream and ahead/behind", () => {
    const result = parsePorcelainV2(z(...header("feature/x"), "# branch.upstream origin/feature/x", "# branch.ab +3 -12"))
    assert.strictEqual(result.branch, "feature/x")
    assert.strictEqual(result.upstream, "origin/feature/x")
    assert.strictEqual(result.ahead, 3)
    assert.strictEqual(result.behind, 12)
  })

  it("a detached HEAD and an initial repository", () => {
    const detached = parsePorcelainV2(z(...header("(detached)")))
    assert.strictEqual(detached.branch, null)
    assert.isTrue(detached.detached)
    assert.strictEqual(detached.commit, oid)
    const initial = parsePorcelainV2(z(...header("main", "(initial)")))
    assert.strictEqual(initial.commit, null)
    assert.strictEqual(initial.branch, "main")
    assert.isFalse(initial.detached)
  })

  it("empty output and unknown headers leave the defaults", () => {
    const empty = parsePorcelainV2("")
    assert.strictEqual(empty.branch, null)
    assert.strictEqual(empty.commit, null)
    assert.deepStrictEqual(empty.staged, [])
    const stash = parsePorcelainV2(z(...header(), "# stash 2"))
    assert.strictEqual(stash.branch, "main")
  })
})

describe("parsePorcelainV2: entries", () => {
  it("ordinary changes go to staged (X) and unstaged (Y), with spaces in names kept", () => {
    const result = parsePorcelainV2(z(
      ...header(),
      `1 A. N... 000000 100644 100644 ${zero} ${h1} new file.txt`,
      `1 M. N... 100644 100644 100644 ${h1} ${h2} staged.txt`,
      `1 D. N... 100644 000000 000000 ${h1} ${zero} gone.txt`,
      `1 .M N... 100644 100644 100644 ${h1} ${h1} edited.txt`,
      `1 .D N... 100644 100644 000000 ${h1} ${h1} removed.txt`,
      `1 MM N... 100644 100644 100644 ${h1} ${h2} both.txt`,
      `1 .T N... 100644 100644 120000 ${h1} ${h1} became-link`
    ))
    assert.deepStrictEqual(result.staged, [
      { path: "new file.txt", change: "added" },
      { path: "staged.txt", change: "modified" },
      { path: "gone.txt", change: "deleted" },
      { path: "both.txt", change: "modified" }
    ])
    assert.deepStrictEqual(result.unstaged, [
      { path: "edited.txt", change: "modified" },
      { path: "removed.txt", change: "deleted" },
      { path: "both.txt", change: "modified" },
      { path: "became-link", change: "type-changed" }
    ])
  })

  it("a rename record takes the next record as its original path", () => {
    const result = parsePorcelainV2(z(
      ...header(),
      `2 R. N... 100644 100644 100644 ${h1} ${h1} R100 new name.txt`,
      "old name.txt",
      `2 .C N... 100644 100644 100644 ${h1} ${h1} C75 copy.txt`,
      "source.txt",
      "? after.txt"
    ))
    assert.deepStrictEqual(result.staged, [{ path: "new name.txt", change: "renamed", from: "old name.txt" }])
    assert.deepStrictEqual(result.unstaged, [{ path: "copy.txt", change: "copied", from: "source.txt" }])
    // the original path was consumed, not read as a record of its own
    assert.deepStrictEqual(result.untracked, ["after.txt"])
  })

  it("unmerged records are conflicts, not staged or unstaged changes", () => {
    const result = parsePorcelainV2(z(
      ...header(),
      `u UU N... 100644 100644 100644 100644 ${h1} ${h2} ${h3} conflict file.txt`,
      `u AA N... 000000 100644 100644 100644 ${zero} ${h2} ${h3} both-added.txt`,
      `u DU N... 100644 000000 100644 100644 ${h1} ${zero} ${h3} deleted-by-us.txt`
    ))
    assert.deepStrictEqual(result.conflicted, ["conflict file.txt", "both-added.txt", "deleted-by-us.txt"])
    assert.deepStrictEqual(result.staged, [])
    assert.deepStrictEqual(result.unstaged, [])
  })

  it("untracked names are taken whole; ignored entries are skipped", () => {
    const result = parsePorcelainV2(z(...header(), "? a b  c.txt", "? ünïcödé.txt", "? dir/", "! ignored.log", "? line\nbreak.txt"))
    assert.deepStrictEqual(result.untracked, ["a b  c.txt", "ünïcödé.txt", "dir/", "line\nbreak.txt"])
  })

  it("a name that looks like a record stays a name", () => {
    const result = parsePorcelainV2(z(...header(), `1 .M N... 100644 100644 100644 ${h1} ${h1} # branch.head evil`, "? 1 .M fake"))
    assert.strictEqual(result.branch, "main")
    assert.deepStrictEqual(result.unstaged, [{ path: "# branch.head evil", change: "modified" }])
    assert.deepStrictEqual(result.untracked, ["1 .M fake"])
  })
})

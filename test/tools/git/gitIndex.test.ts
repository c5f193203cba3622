/** parseIndex against `git ls-files --stage` on real index files of versions 2, 3 (extended flags) and 4 (compressed paths). */
import * as fs from "node:fs"
import * as path from "node:path"
import { afterEach, assert, beforeEach, describe, it } from "vitest"
import { gitlinkMode, parseIndex } from "../../../src/tools/git/gitIndex.ts"
import { type Fixture, makeFixture } from "../fixtures.ts"
import { commitAll, git, gitAllowingFailure, repoWith, write } from "./gitRepo.ts"

let fx: Fixture
beforeEach(() => {
  fx = makeFixture()
})
afterEach(() => fx.cleanup())

const staged = (repo: string) =>
  git(repo, "ls-files", "--stage", "-z").split("\0").filter((r) => r !== "").map((record) => {
    const [info, name] = record.split("\t") as [string, string]
    const [mode, oid, stage] = info.split(" ") as [string, string, string]
    return { path: name, mode: Number.parseInt(mode, 8), stage: Number(stage), oid }
  })

const ours = (repo: string) =>
  parseIndex(fs.readFileSync(path.join(repo, ".git", "index"))).map(({ path, mode, stage, oid }) => ({ path, mode, stage, oid }))

describe("parseIndex reads what git reads", () => {
  it("versions 2, 3 and 4, with a gitlink, a symbolic link, conflicts and long and shared-prefix names", () => {
    const repo = path.join(fx.root, "repo")
    const long = `${"deep/".repeat(30)}${"n".repeat(200)}.txt`
    repoWith(repo, { "a.txt": "base\n", "dir/one.txt": "1", "dir/one-two.txt": "12", "dir/sub/x.txt": "x", [long]: "long", "ünï cödé.txt": "u" })
    fs.symlinkSync("a.txt", path.join(repo, "link"))
    commitAll(repo, "link")
    // a submodule that is not checked out: a gitlink in the index, an empty folder in the work tree
    const commit = git(repo, "rev-parse", "HEAD").trim()
    git(repo, "update-index", "--add", "--cacheinfo", `160000,${commit},vendor/sub`)
    fs.mkdirSync(path.join(repo, "vendor", "sub"), { recursive: true })
    git(repo, "commit", "-q", "-m", "submodule")
    git(repo, "checkout", "-q", "-b", "other")
    write(repo, { "a.txt": "other\n" })
    commitAll(repo, "other")
    git(repo, "checkout", "-q", "main")
    write(repo, { "a.txt": "main\n" })
    commitAll(repo, "main")
    assert.strictEqual(gitAllowingFailure(repo, "merge", "-q", "other"), 1)
    for (const version of ["2", "3", "4"]) {
      git(repo, "update-index", "--index-version", version)
      if (version === "3") git(repo, "update-index", "--skip-worktree", "dir/one.txt")
      const buffer = fs.readFileSync(path.join(repo, ".git", "index"))
      assert.strictEqual(buffer.readUInt32BE(4), Number(version))
      assert.deepStrictEqual(ours(repo), staged(repo), `index version ${version}`)
    }
    const entries = ours(repo)
    assert.deepStrictEqual(entries.filter((e) => e.mode === gitlinkMode).map((e) => e.path), ["vendor/sub"])
    // stat data and flags as git stored them
    const full = parseIndex(fs.readFileSync(path.join(repo, ".git", "index")))
    const stat = fs.statSync(path.join(repo, "dir", "one-two.txt"))
    const entry = full.find((e) => e.path === "dir/one-two.txt")!
    assert.strictEqual(entry.size, stat.size)
    assert.strictEqual(entry.mtimeSeconds, Math.floor(stat.mtimeMs / 1000))
    assert.strictEqual(entry.ino, stat.ino % 2 ** 32)
    assert.isTrue(full.find((e) => e.path === "dir/one.txt")!.skipWorktree)
    assert.isFalse(entry.skipWorktree)
    assert.deepStrictEqual(entries.filter((e) => e.path === "a.txt").map((e) => e.stage), [1, 2, 3])
  })

  it("refuses what is not an index", () => {
    assert.throws(() => parseIndex(Buffer.from("not an index at all")))
    assert.throws(() => parseIndex(Buffer.concat([Buffer.from("DIRC"), Buffer.from([0, 0, 0, 2, 0, 0, 0, 5])])))
  })
})

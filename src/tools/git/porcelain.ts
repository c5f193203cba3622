/** Parses `git status --porcelain=v2 --branch -z` (see git-status(1), "Porcelain Format Version 2"). */

export interface FileChange {
  readonly path: string
  /** added, modified, deleted, renamed, copied, type-changed, updated-but-unmerged */
  readonly change: string
  readonly from?: string
}

export interface GitStatus {
  readonly branch: string | null
  readonly detached: boolean
  readonly commit: string | null
  readonly upstream: string | null
  readonly ahead: number
  readonly behind: number
  readonly staged: ReadonlyArray<FileChange>
  readonly unstaged: ReadonlyArray<FileChange>
  readonly untracked: ReadonlyArray<string>
  readonly conflicted: ReadonlyArray<string>
}

const changeNames: Record<string, string> = {
  M: "modified", T: "type-changed", A: "added", D: "deleted", R: "renamed", C: "copied", U: "updated-but-unmerged"
}

export const parsePorcelainV2 = (output: string): GitStatus => {
  const records = output.split("\0")
  let branch: string | null = null
  let detached = false
  let commit: string | null = null
  let upstream: string | null = null
  let ahead = 0
  let behind = 0
  const staged: Array<FileChange> = []
  const unstaged: Array<FileChange> = []
  const untracked: Array<string> = []
  const conflicted: Array<string> = []
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!
    if (record === "") continue
    const fields = record.split(" ")
    switch (fields[0]) {
      case "#": {
        const value = fields.slice(2).join(" ")
        if (fields[1] === "branch.oid") commit = value === "(initial)" ? null : value
        else if (fields[1] === "branch.head") (detached = value === "(detached)"), (branch = detached ? null : value)
        else if (fields[1] === "branch.upstream") upstream = value
        else if (fields[1] === "branch.ab") (ahead = Number(fields[2]?.slice(1) ?? 0)), (behind = Number(fields[3]?.slice(1) ?? 0))
        break
      }
      case "1":
      case "2": {
        // "1 XY sub mH mI mW hH hI path"; "2 ... Xscore path" followed by the original path as its own record
        const xy = fields[1]!
        const path = fields.slice(fields[0] === "1" ? 8 : 9).join(" ")
        const from = fields[0] === "2" ? records[++i] : undefined
        const entry = (code: string): FileChange => ({ path, change: changeNames[code] ?? code, ...(from === undefined ? {} : { from }) })
        if (xy[0] !== ".") staged.push(entry(xy[0]!))
        if (xy[1] !== ".") unstaged.push(entry(xy[1]!))
        break
      }
      case "u":
        conflicted.push(fields.slice(10).join(" "))
        break
      case "?":
        untracked.push(record.slice(2))
        break
    }
  }
  return { branch, detached, commit, upstream, ahead, behind, staged, unstaged, untracked, conflicted }
}

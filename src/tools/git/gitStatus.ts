/**
 * git_status: read in-process (readStatus.ts, isomorphic-git), never by running git. The repository is
 * found as git finds it from the given folder, never above the working directory; a git directory, common
 * directory, core.worktree or alternates outside the working directory is refused, and every file read is
 * confined to it (confinedFs.ts). Nothing in the repository's configuration can make it run a program:
 * it runs none.
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AppConfig } from "../../config/AppConfig.ts"
import { existingDirectory } from "../files/fileErrors.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, jsonOutput, ToolFailure } from "../ToolDefinition.ts"
import { readGitStatus, StatusFailure, StatusTooLarge } from "./readStatus.ts"
import { describeProblems, findRepository, type GitRepository, outsideAlternates, RepositoryRefused } from "./repository.ts"

const GitStatusInput = Schema.Struct({
  path: Schema.optionalKey(Schema.String.annotate({ description: "A repository (or a folder in one) inside the working directory; default \".\"" }))
})

/** Largest single file git_status reads (work tree files are hashed whole, packs are read whole). */
export const gitStatusMaxFileBytes = 512 * 1024 * 1024
/** Most commits walked to count ahead/behind. */
export const gitStatusMaxCommits = 100_000

export const gitStatusTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
  return defineTool({
    name: "git_status",
    description:
      "Branch, upstream, ahead/behind, and staged, unstaged, untracked and conflicted files of a git repository inside the working directory. Read in-process: no git program (nor any program a repository's configuration names) is run.",
    input: GitStatusInput,
    annotations: { title: "Git status", readOnlyHint: true, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        const folder = yield* existingDirectory(sandbox, input.path ?? ".")
        const root = sandbox.root()
        const tools = config.current().tools
        const tooLarge = `git status output is larger than tools.maxOutputBytes (${tools.maxOutputBytes} bytes)`
        const failure = (error: unknown) =>
          new ToolFailure({
            message: error instanceof StatusTooLarge
              ? tooLarge
              : error instanceof RepositoryRefused || error instanceof StatusFailure
              ? `git_status refused ${folder.relative}: ${error.message}`
              : `git status failed in ${folder.relative}: ${(error as Error)?.message ?? String(error)}`
          })
        const repo: GitRepository | undefined = yield* Effect.tryPromise({
          try: async () => {
            const found = await findRepository(root, folder.absolute)
            const outside = found === undefined ? [] : await outsideAlternates(root, found)
            if (outside.length > 0) throw new RepositoryRefused(describeProblems(outside))
            return found
          },
          catch: failure
        })
        if (repo === undefined) {
          return yield* new ToolFailure({ message: `${folder.relative} is not a git repository (inside the working directory)` })
        }
        const status = yield* Effect.tryPromise({
          try: (signal) =>
            readGitStatus({
              root,
              repo,
              signal,
              maxFileBytes: gitStatusMaxFileBytes,
              maxCommits: gitStatusMaxCommits,
              // the result could never be returned past tools.maxOutputBytes anyway; one entry is at least ~20 bytes
              maxEntries: Math.max(1, Math.ceil(tools.maxOutputBytes / 20))
            }),
          catch: failure
        })
        const result = { path: folder.relative, ...status }
        if (Buffer.byteLength(JSON.stringify(result)) > tools.maxOutputBytes) {
          return yield* new ToolFailure({ message: tooLarge })
        }
        return jsonOutput(result)
      })
  })
})

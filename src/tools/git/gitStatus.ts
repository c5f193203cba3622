import { Effect, Schema } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { existingDirectory } from "../files/fileErrors.ts"
import { childEnvironment, findOnPath } from "../process/childEnvironment.ts"
import { ProcessSpawner } from "../process/ProcessSpawner.ts"
import { runProcess } from "../process/runProcess.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, jsonOutput, ToolFailure } from "../ToolDefinition.ts"
import { parsePorcelainV2 } from "./porcelain.ts"

const GitStatusInput = Schema.Struct({
  path: Schema.optionalKey(Schema.String.annotate({ description: "A repository (or a folder in one) inside the working directory; default \".\"" }))
})

export const gitStatusTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
  const spawner = yield* ProcessSpawner
  return defineTool({
    name: "git_status",
    description: "Branch, upstream, ahead/behind, and staged, unstaged, untracked and conflicted files of a git repository inside the working directory.",
    input: GitStatusInput,
    annotations: { title: "Git status", readOnlyHint: true, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        const folder = yield* existingDirectory(sandbox, input.path ?? ".")
        const git = findOnPath("git")
        if (git === undefined) return yield* new ToolFailure({ message: "git is not installed: it was not found on PATH" })
        const tools = config.current().tools
        const result = yield* runProcess({
          command: git,
          // --no-optional-locks: a status must not take the index lock another git process may need
          args: ["--no-optional-locks", "status", "--porcelain=v2", "--branch", "-z"],
          cwd: folder.absolute,
          env: childEnvironment(sandbox.root()),
          timeoutMs: tools.timeout,
          maxOutputBytes: tools.maxOutputBytes
        }).pipe(spawner.provide)
        // git is stopped when its output passes the cap, so this comes before its exit code
        if (result.stdoutTruncated) {
          return yield* new ToolFailure({ message: `git status output is larger than tools.maxOutputBytes (${tools.maxOutputBytes} bytes)` })
        }
        if (result.exitCode !== 0) {
          const reason = result.stderr.trim()
          return yield* new ToolFailure({
            message: /not a git repository/i.test(reason)
              ? `${folder.relative} is not a git repository (inside the working directory)`
              : `git status failed in ${folder.relative}: ${reason || (result.timedOut ? "timed out" : `exit ${result.exitCode}`)}`
          })
        }
        return jsonOutput({ path: folder.relative, ...parsePorcelainV2(result.stdout) })
      })
  })
})

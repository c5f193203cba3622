import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import * as fs from "node:fs/promises"
import { AppConfig } from "../../config/AppConfig.ts"
import { PathRefused, Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure, type ToolOutput } from "../ToolDefinition.ts"
import { childEnvironment, findOnPath } from "./childEnvironment.ts"
import { physicalPath, planCommand } from "./commandPolicy.ts"
import { type ProcessResult, runProcess } from "./runProcess.ts"
import { ProcessSpawner } from "./ProcessSpawner.ts"
import { gitInvocation } from "./gitSafety.ts"

const ExecuteCommandInput = Schema.Struct({
  command: Schema.String.check(Schema.isNonEmpty()).annotate({ description: "Program name from tools.allowedCommands (no path, no shell)" }),
  args: Schema.optionalKey(Schema.Array(Schema.String).annotate({ description: "Arguments, passed as they are: no shell, so ; | $( ) and globs are plain text" })),
  cwd: Schema.optionalKey(Schema.String.annotate({ description: "Folder to run in, relative to the working directory (default \".\")" })),
  timeoutMs: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({ description: "Time limit in ms, at most tools.timeout" })),
  stdin: Schema.optionalKey(Schema.String.annotate({ description: "Text written to the program's standard input" }))
})

const section = (name: string, body: string, truncated: boolean) =>
  body === "" ? "" : `\n--- ${name}${truncated ? " (truncated)" : ""} ---\n${body}`

export const processOutput = (label: string, result: ProcessResult): ToolOutput => {
  const ending = result.timedOut
    ? `timed out after ${result.durationMs} ms; the process group was stopped`
    : result.stdoutTruncated || result.stderrTruncated
    ? "was stopped: its output passed tools.maxOutputBytes"
    : result.signal !== null
    ? `ended by ${result.signal}`
    : `exited with ${result.exitCode}`
  return {
    content: [{ type: "text", text: `${label} ${ending} in ${result.durationMs} ms${section("stdout", result.stdout, result.stdoutTruncated)}${section("stderr", result.stderr, result.stderrTruncated)}` }],
    structuredContent: { ...result },
    isError: result.timedOut || result.exitCode !== 0 || result.stdoutTruncated || result.stderrTruncated
  }
}

export const executeCommandTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
  const spawner = yield* ProcessSpawner
  return defineTool({
    name: "execute_command",
    description:
      "Run an allowlisted program with an argument vector (never a shell) inside the working directory. Returns exit code, stdout, stderr and duration; output is capped at tools.maxOutputBytes.",
    input: ExecuteCommandInput,
    annotations: { title: "Execute command", readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    handler: (input) =>
      Effect.gen(function*() {
        const tools = config.current().tools
        const args = input.args ?? []
        const plan = planCommand(input.command, args, tools)
        if (plan.refusal !== undefined) return yield* new ToolFailure({ message: plan.refusal })
        // a program may read everything below the folders it is given: none may hold the router's own state
        const cwd = yield* sandbox.resolveForProgram(input.cwd ?? ".")
        // paths are relative to the command's folder; a refusal names the argument as it was given
        // where the program's path really leads: its `..` is taken after symbolic links, as the kernel does
        const where = (word: string) => Effect.promise(() => physicalPath(cwd.absolute, word))
        const confine = (word: string) =>
          where(word).pipe(
            Effect.flatMap((real) => sandbox.resolveForProgram(real)),
            Effect.mapError((e) => new PathRefused({ path: word, reason: e.reason }))
          )
        const exists = (word: string) =>
          where(word).pipe(Effect.flatMap((real) => Effect.promise(() => fs.lstat(real).then(() => true, () => false))))
        for (const candidate of plan.paths) yield* confine(candidate)
        // a plain name may still be a symbolic link that leads outside: whatever exists is confined too
        for (const operand of plan.operands) {
          if (yield* exists(operand)) yield* confine(operand)
        }
        // git: read-only subcommands only, in repositories that name no program and nothing outside (gitSafety.ts)
        const invocation = input.command === "git"
          ? yield* Effect.tryPromise({
            try: () => gitInvocation(sandbox.root(), cwd.absolute, plan.args, childEnvironment(sandbox.root())),
            catch: (error) => new ToolFailure({ message: `git could not be checked: ${(error as Error)?.message ?? String(error)}` })
          })
          : { args: plan.args, env: childEnvironment(sandbox.root()) }
        if ("refusal" in invocation) return yield* new ToolFailure({ message: invocation.refusal })
        const program = findOnPath(input.command)
        if (program === undefined) {
          return yield* new ToolFailure({ message: `${input.command} is allowed but not installed: it was not found on PATH` })
        }
        const result = yield* runProcess({
          command: program,
          args: invocation.args,
          cwd: cwd.absolute,
          env: invocation.env,
          stdin: input.stdin,
          // a little under tools.timeout, so the program is stopped (and its output kept) before the call is
          timeoutMs: Math.min(input.timeoutMs ?? Math.floor(tools.timeout * 0.9), tools.timeout),
          maxOutputBytes: tools.maxOutputBytes
        }).pipe(spawner.provide)
        return processOutput(input.command, result)
      })
  })
})

import { Effect, Schema } from "effect"
import { AppConfig } from "../../config/AppConfig.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure, type ToolOutput } from "../ToolDefinition.ts"
import { childEnvironment, findOnPath } from "./childEnvironment.ts"
import { planCommand } from "./commandPolicy.ts"
import { type ProcessResult, runProcess } from "./runProcess.ts"
import { ProcessSpawner } from "./ProcessSpawner.ts"

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
    isError: result.timedOut || result.exitCode !== 0
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
        for (const candidate of plan.paths) yield* sandbox.resolve(candidate)
        const cwd = yield* sandbox.resolve(input.cwd ?? ".")
        const program = findOnPath(input.command)
        if (program === undefined) {
          return yield* new ToolFailure({ message: `${input.command} is allowed but not installed: it was not found on PATH` })
        }
        const result = yield* runProcess({
          command: program,
          args,
          cwd: cwd.absolute,
          env: childEnvironment(sandbox.root()),
          stdin: input.stdin,
          timeoutMs: Math.min(input.timeoutMs ?? tools.timeout, tools.timeout),
          maxOutputBytes: tools.maxOutputBytes
        }).pipe(spawner.provide)
        return processOutput(input.command, result)
      })
  })
})

import { Effect, Option, Schema } from "effect"
import { repositoryInternalsRefusal, repositoryWriteLock, shapesRepository } from "../git/repositoryInternals.ts"
import { printableName } from "../printableName.ts"
import { PathRefused, Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"

const WriteFileInput = Schema.Struct({
  path: Schema.String.annotate({ description: "File path, relative to the working directory" }),
  content: Schema.String.annotate({ description: "Text to write (or base64 data with encoding base64)" }),
  encoding: Schema.optionalKey(Schema.Literals(["utf8", "base64"]).annotate({ description: "How content is encoded (default utf8)" })),
  mode: Schema.optionalKey(
    Schema.Literals(["create", "overwrite", "append"]).annotate({
      description: "create: fail if the file exists; overwrite (default): replace it; append: add to its end"
    })
  ),
  createDirs: Schema.optionalKey(Schema.Boolean.annotate({ description: "Create missing parent folders (default false)" }))
})

const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * No write inside any repository's internals (a git directory under any name), nor one that would make a
 * folder one (git/repositoryInternals.ts). A write that could shape a repository is checked and done under
 * one lock, so concurrent calls cannot assemble a repository between the checks and the writes.
 */
const outsideRepositoryInternals = <A, E, R>(sandbox: Sandbox["Service"], input: string, write: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const resolved = yield* Effect.option(sandbox.resolveForWrite(input))
    // a path the sandbox refuses is refused by the write itself, with the sandbox's own message
    if (Option.isNone(resolved)) return yield* write
    const check = Effect.promise(() => repositoryInternalsRefusal(sandbox.root(), resolved.value.absolute)).pipe(
      Effect.flatMap((reason) => (reason === undefined ? Effect.void : Effect.fail(new PathRefused({ path: input, reason }))))
    )
    const guarded = Effect.andThen(check, write)
    return yield* (shapesRepository(resolved.value.relative) ? repositoryWriteLock.withPermit(guarded) : guarded)
  })

export const writeFileTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  return defineTool({
    name: "write_file",
    description: "Write a file inside the working directory: create a new one, overwrite, or append.",
    input: WriteFileInput,
    annotations: { title: "Write file", readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    handler: (input) =>
      outsideRepositoryInternals(sandbox, input.path, Effect.gen(function*() {
        const encoding = input.encoding ?? "utf8"
        if (encoding === "base64" && !base64Pattern.test(input.content.replace(/\s/g, ""))) {
          return yield* new ToolFailure({ message: "content is not valid base64" })
        }
        const data = Buffer.from(input.content, encoding)
        // the folder is opened and verified (missing folders made inside it with createDirs); the file is
        // created, appended to or replaced through that folder's descriptor and verified through its own
        const target = yield* sandbox.openForWrite(input.path, { createDirs: input.createDirs === true })
        const mode = input.mode ?? "overwrite"
        const { size, created } = yield* sandbox.write(target, data, mode)
        return {
          content: [{ type: "text" as const, text: `Wrote ${data.length} bytes to ${printableName(target.relative)} (${mode}); it now has ${size} bytes.` }],
          structuredContent: { path: target.relative, bytesWritten: data.length, size, mode, created }
        }
      }).pipe(Effect.scoped))
  })
})

import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as path from "node:path"
import { repositoryInternalsRefusal, repositoryWriteLock, shapesRepository } from "../git/repositoryInternals.ts"
import { printableName } from "../printableName.ts"
import { PathRefused, Sandbox, type WriteTarget } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"
import * as fd_ from "./fd.ts"
import { fsFailure } from "./fileErrors.ts"

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
 * folder one (git/repositoryInternals.ts). The path is checked first, so that a refused write makes no
 * folder (createDirs); then, once the Sandbox has opened and verified the folder the file goes in, that
 * very folder is checked: its real path now (read from its descriptor) with the file's name. The write
 * goes through that descriptor, so a folder moved or a symbolic link swapped in after the path was checked
 * cannot take the write into a repository's internals. A write that could shape a repository (by its
 * path, what the path resolves to, or where the verified folder is) is checked and done under one lock, so
 * concurrent calls cannot assemble a repository between the checks and the writes.
 */
const outsideRepositoryInternals = <A, E, R>(
  sandbox: Sandbox["Service"],
  input: string,
  createDirs: boolean,
  write: (target: WriteTarget) => Effect.Effect<A, E, R>
) =>
  Effect.gen(function*() {
    const root = sandbox.root()
    const refuseIf = (reason: string | undefined) => (reason === undefined ? Effect.void : Effect.fail(new PathRefused({ path: input, reason })))
    const checkPath = (absolute: string) => Effect.promise(() => repositoryInternalsRefusal(root, absolute)).pipe(Effect.flatMap(refuseIf))
    const resolved = yield* Effect.option(sandbox.resolveForWrite(input))
    const locked = shapesRepository(input) || (Option.isSome(resolved) && shapesRepository(resolved.value.relative))
    const guarded = (held: boolean) =>
      Effect.gen(function*() {
        // a path the sandbox refuses is refused by openForWrite itself, with the sandbox's own message
        if (Option.isSome(resolved)) yield* checkPath(resolved.value.absolute)
        const target = yield* sandbox.openForWrite(input, { createDirs })
        // where the verified folder is now, whatever its path leads to
        const folder = yield* Effect.try({
          try: () => fd_.realPathOf(target.folder.fd),
          catch: (error) => fsFailure(target.relative, error)
        })
        const verified = path.join(folder, target.name)
        const checkVerified = Effect.andThen(checkPath(verified), write(target))
        // found only now to shape a repository (it was moved, or a link was swapped in): checked and written under the lock
        return yield* (held || !shapesRepository(path.relative(root, verified)) ? checkVerified : repositoryWriteLock.withPermit(checkVerified))
      }).pipe(Effect.scoped)
    return yield* (locked ? repositoryWriteLock.withPermit(guarded(true)) : guarded(false))
  })

export const writeFileTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  return defineTool({
    name: "write_file",
    description: "Write a file inside the working directory: create a new one, overwrite, or append.",
    input: WriteFileInput,
    annotations: { title: "Write file", readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    handler: (input) => {
      const encoding = input.encoding ?? "utf8"
      if (encoding === "base64" && !base64Pattern.test(input.content.replace(/\s/g, ""))) {
        return Effect.fail(new ToolFailure({ message: "content is not valid base64" }))
      }
      const data = Buffer.from(input.content, encoding)
      const mode = input.mode ?? "overwrite"
      // the folder is opened and verified (missing folders made inside it with createDirs); the file is
      // created, appended to or replaced through that folder's descriptor and verified through its own
      return outsideRepositoryInternals(sandbox, input.path, input.createDirs === true, (target) =>
        Effect.gen(function*() {
          const { size, created } = yield* sandbox.write(target, data, mode)
          return {
            content: [{ type: "text" as const, text: `Wrote ${data.length} bytes to ${printableName(target.relative)} (${mode}); it now has ${size} bytes.` }],
            structuredContent: { path: target.relative, bytesWritten: data.length, size, mode, created }
          }
        }))
    }
  })
})

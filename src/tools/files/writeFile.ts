import { Effect, Schema } from "effect"
import { randomBytes } from "node:crypto"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"
import { fsCall } from "./fileErrors.ts"

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
 * Writes beside the target, then renames over it: a reader never sees half a file, a crash leaves the old
 * one. The new file keeps the old one's permissions, so a private file stays private.
 */
const replaceAtomically = async (target: string, data: Buffer, mode: number | undefined) => {
  const temporary = path.join(path.dirname(target), `.${path.basename(target)}.${randomBytes(6).toString("hex")}.tmp`)
  try {
    await fs.writeFile(temporary, data, { flag: "wx", mode: mode ?? 0o666 })
    if (mode !== undefined) await fs.chmod(temporary, mode)
    await fs.rename(temporary, target)
  } catch (error) {
    await fs.rm(temporary, { force: true })
    throw error
  }
}

export const writeFileTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  return defineTool({
    name: "write_file",
    description: "Write a file inside the working directory: create a new one, overwrite, or append.",
    input: WriteFileInput,
    annotations: { title: "Write file", readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        const encoding = input.encoding ?? "utf8"
        if (encoding === "base64" && !base64Pattern.test(input.content.replace(/\s/g, ""))) {
          return yield* new ToolFailure({ message: "content is not valid base64" })
        }
        const data = Buffer.from(input.content, encoding)
        const target = yield* sandbox.resolveForWrite(input.path)
        if (target.relative === ".") return yield* new ToolFailure({ message: "path names the working directory itself, not a file" })
        const parent = path.dirname(target.absolute)
        const parentStat = yield* Effect.promise(() => fs.stat(parent).catch(() => undefined))
        if (parentStat === undefined) {
          if (input.createDirs !== true) {
            return yield* new ToolFailure({ message: `folder ${path.dirname(target.relative)} does not exist; pass createDirs: true to create it` })
          }
          yield* fsCall(path.dirname(target.relative), () => fs.mkdir(parent, { recursive: true }))
        } else if (!parentStat.isDirectory()) {
          return yield* new ToolFailure({ message: `${path.dirname(target.relative)} is not a folder` })
        }
        const existing = yield* Effect.promise(() => fs.lstat(target.absolute).catch(() => undefined))
        if (existing?.isDirectory()) return yield* new ToolFailure({ message: `${target.relative} is a directory` })
        const mode = input.mode ?? "overwrite"
        yield* fsCall(target.relative, () => {
          switch (mode) {
            case "create":
              return fs.writeFile(target.absolute, data, { flag: "wx" })
            case "append":
              return fs.appendFile(target.absolute, data)
            case "overwrite":
              return replaceAtomically(target.absolute, data, existing === undefined ? undefined : existing.mode & 0o7777)
          }
        })
        const size = (yield* fsCall(target.relative, () => fs.stat(target.absolute))).size
        return {
          content: [{ type: "text" as const, text: `Wrote ${data.length} bytes to ${target.relative} (${mode}); it now has ${size} bytes.` }],
          structuredContent: { path: target.relative, bytesWritten: data.length, size, mode, created: existing === undefined }
        }
      })
  })
})

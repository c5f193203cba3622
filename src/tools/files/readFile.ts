import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"
import { AppConfig } from "../../config/AppConfig.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"
import { fsCall } from "./fileErrors.ts"

const ReadFileInput = Schema.Struct({
  path: Schema.String.annotate({ description: "File path, relative to the working directory" }),
  encoding: Schema.optionalKey(Schema.Literals(["utf8", "base64"]).annotate({ description: "utf8 (default) or base64 for binary files" })),
  offset: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(0)).annotate({ description: "First byte to read (default 0)" })),
  length: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(1)).annotate({ description: "Number of bytes to read (default: to the end)" }))
})

export const readFileTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
  return defineTool({
    name: "read_file",
    description: "Read a file inside the working directory, whole or a byte range, as UTF-8 text or base64.",
    input: ReadFileInput,
    annotations: { title: "Read file", readOnlyHint: true, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        const target = yield* sandbox.resolve(input.path)
        const stat = yield* fsCall(target.relative, () => fs.stat(target.absolute))
        if (!stat.isFile()) return yield* new ToolFailure({ message: `${target.relative} is not a regular file` })
        const offset = input.offset ?? 0
        const length = Math.max(0, Math.min(input.length ?? stat.size - offset, stat.size - offset))
        const limit = config.current().tools.maxReadBytes
        if (length > limit) {
          return yield* new ToolFailure({
            message: `${target.relative} is ${stat.size} bytes; reading ${length} bytes is over the limit of ${limit} (tools.maxReadBytes). Read a range with offset and length.`
          })
        }
        const bytes = yield* fsCall(target.relative, async () => {
          const handle = await fs.open(target.absolute, "r")
          try {
            const buffer = Buffer.alloc(length)
            const { bytesRead } = await handle.read(buffer, 0, length, offset)
            return buffer.subarray(0, bytesRead)
          } finally {
            await handle.close()
          }
        })
        const encoding = input.encoding ?? "utf8"
        return {
          content: [{ type: "text" as const, text: bytes.toString(encoding) }],
          structuredContent: { path: target.relative, size: stat.size, offset, bytesRead: bytes.length, encoding }
        }
      })
  })
})

import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AppConfig } from "../../config/AppConfig.ts"
import { printableName } from "../printableName.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"

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
        // opened once and verified through its descriptor; read through the same descriptor
        const file = yield* sandbox.open(input.path)
        const stat = file.stat
        if (!stat.isFile()) return yield* new ToolFailure({ message: `${printableName(file.relative)} is not a regular file` })
        const offset = input.offset ?? 0
        const length = Math.max(0, Math.min(input.length ?? stat.size - offset, stat.size - offset))
        const limit = config.current().tools.maxReadBytes
        if (length > limit) {
          return yield* new ToolFailure({
            message: `${printableName(file.relative)} is ${stat.size} bytes; reading ${length} bytes is over the limit of ${limit} (tools.maxReadBytes). Read a range with offset and length.`
          })
        }
        const bytes = yield* sandbox.read(file, offset, length)
        const encoding = input.encoding ?? "utf8"
        return {
          content: [{ type: "text" as const, text: bytes.toString(encoding) }],
          structuredContent: { path: file.relative, size: stat.size, offset, bytesRead: bytes.length, encoding }
        }
      }).pipe(Effect.scoped)
  })
})

import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { availableParallelism } from "node:os"
import { AppConfig } from "../../config/AppConfig.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"
import { printableName } from "../printableName.ts"
import { fsFailure } from "./fileErrors.ts"
import { makeSearchPool } from "./searchPool.ts"

const SearchFilesInput = Schema.Struct({
  path: Schema.optionalKey(Schema.String.annotate({ description: "Folder to search, relative to the working directory (default \".\")" })),
  pattern: Schema.optionalKey(
    Schema.String.check(Schema.isNonEmpty()).annotate({
      description: "Glob over file names (\"*.ts\") or relative paths (\"src/**/*.test.ts\"); default \"*\""
    })
  ),
  contentRegex: Schema.optionalKey(
    Schema.String.check(Schema.isNonEmpty(), Schema.isMaxLength(1000)).annotate({
      description: "JavaScript regular expression searched in each text file, line by line"
    })
  ),
  caseSensitive: Schema.optionalKey(Schema.Boolean.annotate({ description: "For contentRegex (default false)" })),
  includeHidden: Schema.optionalKey(Schema.Boolean.annotate({ description: "Search names starting with a dot (default false)" })),
  maxResults: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })))
})

export const searchFilesTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
  // as many warm workers as searches may run at once (the Router's bound on the "search" family)
  const pool = yield* makeSearchPool(() => Math.min(config.current().tools.concurrency.search, availableParallelism()))
  return defineTool({
    name: "search_files",
    description:
      "Find files under a folder by name glob and, optionally, lines matching a regular expression. Binary files and files over tools.maxReadBytes are skipped; symbolic links are not followed.",
    input: SearchFilesInput,
    annotations: { title: "Search files", readOnlyHint: true, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        // the search folder is opened and verified here; the worker searches through that descriptor
        const folder = yield* sandbox.openDirectory(input.path ?? ".")
        let regex: RegExp | undefined
        if (input.contentRegex !== undefined) {
          const source = input.contentRegex
          regex = yield* Effect.try({
            try: () => new RegExp(source, input.caseSensitive === true ? "" : "i"),
            catch: (e) => new ToolFailure({ message: `contentRegex is not a valid regular expression: ${(e as Error).message}` })
          })
        }
        const { maxReadBytes, maxSearchResults } = config.current().tools
        const reply = yield* pool.run({
          root: sandbox.root(),
          folder: folder.absolute,
          folderFd: folder.fd,
          pattern: input.pattern ?? "*",
          ...(regex === undefined ? {} : { regex: { source: regex.source, flags: regex.flags } }),
          includeHidden: input.includeHidden === true,
          maxReadBytes,
          limit: Math.min(input.maxResults ?? maxSearchResults, maxSearchResults),
          // the router's own state is never searched; the identities of its files matter only when contents are read
          exclusions: yield* Effect.promise(() => sandbox.state().exclusions(regex !== undefined))
        })
        // a file system error that ended the search, named as the other file tools name theirs
        if ("error" in reply) return yield* Effect.fail(fsFailure(folder.relative, Object.assign(new Error(reply.error.message), { code: reply.error.code })))
        const { matches, truncated, skippedFiles } = reply.ok
        // names are printed escaped (a newline or a bidirectional control could forge a line); structuredContent keeps them exact
        const lines = matches.map((m) => (m.line === undefined ? printableName(m.path) : `${printableName(m.path)}:${m.line}: ${m.text}`))
        if (truncated) lines.push(`... stopped at ${matches.length} results`)
        return {
          content: [{ type: "text" as const, text: lines.length === 0 ? "No matches" : lines.join("\n") }],
          structuredContent: { path: folder.relative, matches, count: matches.length, truncated, skippedFiles }
        }
        // the descriptor is closed once the worker has answered, or has ended (an interruption waits for terminate)
      }).pipe(Effect.scoped)
  })
})

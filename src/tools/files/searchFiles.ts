import { Effect, Schema } from "effect"
import { Worker } from "node:worker_threads"
import { AppConfig } from "../../config/AppConfig.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"
import { printableName } from "../printableName.ts"
import { fsCall } from "./fileErrors.ts"
import type { SearchRequest, SearchResult } from "./searchWorker.ts"

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

const workerUrl = new URL("./searchWorker.ts", import.meta.url)

/** Runs the search in a worker; interruption (the call's timeout) terminates it, whatever it is doing. */
const searchInWorker = (request: SearchRequest, relative: string) =>
  Effect.callback<SearchResult, ToolFailure>((resume) => {
    const worker = new Worker(workerUrl, { workerData: request })
    worker.once("message", (message: { ok?: SearchResult; error?: { code?: string; message: string } }) => {
      resume(message.ok !== undefined ? Effect.succeed(message.ok) : fsCall(relative, () => Promise.reject(Object.assign(new Error(message.error?.message), { code: message.error?.code }))))
      void worker.terminate()
    })
    worker.once("error", (error) => resume(Effect.fail(new ToolFailure({ message: `search failed: ${error.message}` }))))
    return Effect.promise(() => worker.terminate())
  })

export const searchFilesTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
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
        const { matches, truncated, skippedFiles } = yield* searchInWorker({
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
        }, folder.relative)
        // names are printed escaped (a newline or a bidirectional control could forge a line); structuredContent keeps them exact
        const lines = matches.map((m) => (m.line === undefined ? printableName(m.path) : `${printableName(m.path)}:${m.line}: ${m.text}`))
        if (truncated) lines.push(`... stopped at ${matches.length} results`)
        return {
          content: [{ type: "text" as const, text: lines.length === 0 ? "No matches" : lines.join("\n") }],
          structuredContent: { path: folder.relative, matches, count: matches.length, truncated, skippedFiles }
        }
        // the descriptor is closed when the worker has ended (its interruption waits for terminate)
      }).pipe(Effect.scoped)
  })
})

import { Effect, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { AppConfig } from "../../config/AppConfig.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool, ToolFailure } from "../ToolDefinition.ts"
import { fsCall } from "./fileErrors.ts"

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

/** Lines longer than this are not matched: they are minified or data, and costly to scan. */
const maxLineLength = 10_000
const binarySniffBytes = 8192

interface Match {
  readonly path: string
  readonly line?: number
  readonly text?: string
}

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
        const folder = yield* sandbox.resolve(input.path ?? ".")
        const stat = yield* fsCall(folder.relative, () => fs.stat(folder.absolute))
        if (!stat.isDirectory()) return yield* new ToolFailure({ message: `${folder.relative} is not a directory` })
        let regex: RegExp | undefined
        if (input.contentRegex !== undefined) {
          const source = input.contentRegex
          regex = yield* Effect.try({
            try: () => new RegExp(source, input.caseSensitive === true ? "" : "i"),
            catch: (e) => new ToolFailure({ message: `contentRegex is not a valid regular expression: ${(e as Error).message}` })
          })
        }
        const { maxReadBytes, maxSearchResults } = config.current().tools
        const limit = Math.min(input.maxResults ?? maxSearchResults, maxSearchResults)
        const pattern = input.pattern ?? "*"
        const byName = !pattern.includes("/")
        const root = sandbox.root()
        const matches: Array<Match> = []
        let skipped = 0
        let truncated = false
        const searchContent = async (full: string, relative: string) => {
          const info = await fs.stat(full)
          if (info.size > maxReadBytes) return void skipped++
          const data = await fs.readFile(full)
          if (data.subarray(0, binarySniffBytes).includes(0)) return void skipped++
          const lines = data.toString("utf8").split("\n")
          for (let i = 0; i < lines.length; i++) {
            const line = lines[i]!
            if (line.length > maxLineLength || !regex!.test(line)) continue
            if (matches.length >= limit) return void (truncated = true)
            matches.push({ path: relative, line: i + 1, text: line.length > 500 ? `${line.slice(0, 500)}...` : line })
          }
        }
        const walk = async (dir: string): Promise<void> => {
          const children = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
          for (const child of children) {
            if (truncated) return
            if (input.includeHidden !== true && child.name.startsWith(".")) continue
            const full = path.join(dir, child.name)
            if (child.isDirectory()) {
              await walk(full)
              continue
            }
            if (!child.isFile()) continue
            const fromSearchRoot = path.relative(folder.absolute, full)
            if (!path.matchesGlob(byName ? child.name : fromSearchRoot, pattern)) continue
            const relative = path.relative(root, full)
            if (regex === undefined) {
              if (matches.length >= limit) return void (truncated = true)
              matches.push({ path: relative })
            } else {
              await searchContent(full, relative).catch(() => void skipped++)
            }
          }
        }
        yield* fsCall(folder.relative, () => walk(folder.absolute))
        const lines = matches.map((m) => (m.line === undefined ? m.path : `${m.path}:${m.line}: ${m.text}`))
        if (truncated) lines.push(`... stopped at ${limit} results`)
        return {
          content: [{ type: "text" as const, text: lines.length === 0 ? "No matches" : lines.join("\n") }],
          structuredContent: { path: folder.relative, matches, count: matches.length, truncated, skippedFiles: skipped }
        }
      })
  })
})

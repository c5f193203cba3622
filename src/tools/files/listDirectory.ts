import { Effect, Schema } from "effect"
import type { Dirent } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { AppConfig } from "../../config/AppConfig.ts"
import { Sandbox } from "../Sandbox.ts"
import { defineTool } from "../ToolDefinition.ts"
import { existingDirectory, fsCall } from "./fileErrors.ts"

const ListDirectoryInput = Schema.Struct({
  path: Schema.optionalKey(Schema.String.annotate({ description: "Folder, relative to the working directory (default \".\")" })),
  recursive: Schema.optionalKey(Schema.Boolean.annotate({ description: "List sub-folders too (default false)" })),
  maxDepth: Schema.optionalKey(
    Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 32 })).annotate({ description: "Deepest level when recursive (default 5)" })
  ),
  includeHidden: Schema.optionalKey(Schema.Boolean.annotate({ description: "Include names starting with a dot (default false)" }))
})

export type EntryType = "file" | "directory" | "symlink" | "other"

export const entryType = (entry: Dirent): EntryType =>
  entry.isSymbolicLink() ? "symlink" : entry.isDirectory() ? "directory" : entry.isFile() ? "file" : "other"

export const listDirectoryTool = Effect.gen(function*() {
  const sandbox = yield* Sandbox
  const config = yield* AppConfig
  return defineTool({
    name: "list_directory",
    description:
      "List a folder inside the working directory: name, type, size and modification time of each entry, optionally recursive. Symbolic links are listed, not followed; the router's own files are left out.",
    input: ListDirectoryInput,
    annotations: { title: "List directory", readOnlyHint: true, openWorldHint: false },
    handler: (input) =>
      Effect.gen(function*() {
        const folder = yield* existingDirectory(sandbox, input.path ?? ".")
        const limit = config.current().tools.maxListEntries
        const maxDepth = input.recursive === true ? input.maxDepth ?? 5 : 1
        const root = sandbox.root()
        // the router's own state (when the working folder holds some) is left out, hard links to its files too
        const state = sandbox.state()
        const entries: Array<{ path: string; name: string; type: EntryType; size: number; modified: string }> = []
        let truncated = false
        const walk = async (dir: string, depth: number): Promise<void> => {
          const children = (await fs.readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))
          for (const child of children) {
            if (input.includeHidden !== true && child.name.startsWith(".")) continue
            const full = path.join(dir, child.name)
            if (state.refusal(full) !== undefined) continue
            if (entries.length >= limit) {
              truncated = true
              return
            }
            const info = await fs.lstat(full).catch(() => undefined)
            if (info !== undefined && info.nlink > 1 && info.isFile() && (await state.hardLinkRefusal(info)) !== undefined) continue
            const type = entryType(child)
            entries.push({
              path: path.relative(root, full),
              name: child.name,
              type,
              size: info?.size ?? 0,
              modified: info?.mtime.toISOString() ?? ""
            })
            if (type === "directory" && depth < maxDepth) await walk(full, depth + 1)
          }
        }
        yield* fsCall(folder.relative, () => walk(folder.absolute, 1))
        const lines = entries.map((e) => `${e.type === "directory" ? "d" : e.type === "symlink" ? "l" : "-"} ${String(e.size).padStart(10)} ${e.path}`)
        if (truncated) lines.push(`... truncated at ${limit} entries (tools.maxListEntries)`)
        return {
          content: [{ type: "text" as const, text: lines.length === 0 ? `${folder.relative} is empty` : lines.join("\n") }],
          structuredContent: { path: folder.relative, entries, count: entries.length, truncated }
        }
      })
  })
})

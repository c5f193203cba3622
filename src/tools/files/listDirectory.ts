import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { Dirent } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { AppConfig } from "../../config/AppConfig.ts"
import { printableName } from "../printableName.ts"
import { type Handle, Sandbox } from "../Sandbox.ts"
import { defineTool, type ToolFailure } from "../ToolDefinition.ts"
import { fsCall } from "./fileErrors.ts"

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
        const folder = yield* sandbox.openDirectory(input.path ?? ".")
        const limit = config.current().tools.maxListEntries
        const maxDepth = input.recursive === true ? input.maxDepth ?? 5 : 1
        const root = sandbox.root()
        // the router's own state (when the working folder holds some) is left out, hard links to its files too
        const state = sandbox.state()
        const entries: Array<{ path: string; name: string; type: EntryType; size: number; modified: string }> = []
        let truncated = false
        // each folder is read through its verified descriptor, each entry looked at in that very folder,
        // and a sub-folder opened from it without following a symbolic link, then verified in turn
        const walk = (dir: Handle, depth: number): Effect.Effect<void, ToolFailure> =>
          Effect.gen(function*() {
            // not interrupted while a call uses a descriptor: the scope closes it only afterwards
            const children = (yield* Effect.uninterruptible(fsCall(dir.relative, () => fs.readdir(dir.at, { withFileTypes: true }))))
              .sort((a, b) => a.name.localeCompare(b.name))
            for (const child of children) {
              if (input.includeHidden !== true && child.name.startsWith(".")) continue
              const full = path.join(dir.absolute, child.name)
              if (state.refusal(full) !== undefined) continue
              if (entries.length >= limit) {
                truncated = true
                return
              }
              const info = yield* Effect.uninterruptible(Effect.promise(() => fs.lstat(`${dir.at}/${child.name}`).catch(() => undefined)))
              if (info !== undefined && info.nlink > 1 && info.isFile() && (yield* Effect.promise(() => state.hardLinkRefusal(info))) !== undefined) continue
              const type = entryType(child)
              entries.push({
                path: path.relative(root, full),
                name: child.name,
                type,
                size: info?.size ?? 0,
                modified: info?.mtime.toISOString() ?? ""
              })
              if (type === "directory" && depth < maxDepth) {
                // a folder replaced by a link (or anything else) since it was read is not descended into
                // (closed as soon as it is listed: one open folder per level)
                yield* Effect.scoped(Effect.flatMap(sandbox.openEntry(dir, child.name, { directory: true }), (sub) =>
                  sub === undefined ? Effect.void : walk(sub, depth + 1)))
              }
            }
          })
        yield* walk(folder, 1)
        // names are printed escaped (a newline or a bidirectional control could forge a line); structuredContent keeps them exact
        const lines = entries.map((e) => `${e.type === "directory" ? "d" : e.type === "symlink" ? "l" : "-"} ${String(e.size).padStart(10)} ${printableName(e.path)}`)
        if (truncated) lines.push(`... truncated at ${limit} entries (tools.maxListEntries)`)
        return {
          content: [{ type: "text" as const, text: lines.length === 0 ? `${printableName(folder.relative)} is empty` : lines.join("\n") }],
          structuredContent: { path: folder.relative, entries, count: entries.length, truncated }
        }
      }).pipe(Effect.scoped)
  })
})

/**
 * The `read_file` of the reference servers: the path confined to the working directory by its text, then
 * open once (O_NOFOLLOW), fstat the handle, read, close. The answer has the router's shape (text content
 * and the same structuredContent), so both sides send about the same bytes.
 */
import { constants } from "node:fs"
import * as fs from "node:fs/promises"
import * as path from "node:path"

export interface ToolResult {
  readonly content: Array<{ readonly type: "text"; readonly text: string }>
  readonly structuredContent: Record<string, unknown>
  readonly isError: boolean
  readonly [key: string]: unknown
}

/** The working directory the reference servers read in (BENCH_WORKING_DIR), resolved once. */
export const workingDir = (): string => {
  const dir = process.env["BENCH_WORKING_DIR"]
  if (dir === undefined || dir === "") throw new Error("BENCH_WORKING_DIR is not set")
  return path.resolve(dir)
}

const failure = (text: string): ToolResult => ({ content: [{ type: "text", text }], structuredContent: { error: text }, isError: true })

export const readConfined = async (root: string, relative: unknown): Promise<ToolResult> => {
  if (typeof relative !== "string" || relative === "" || relative.includes("\0")) return failure("path: expected a non-empty string")
  const target = path.resolve(root, relative)
  if (target !== root && !target.startsWith(root + path.sep)) return failure(`${relative}: outside the working directory`)
  let handle: fs.FileHandle
  try {
    handle = await fs.open(target, constants.O_RDONLY | constants.O_NOFOLLOW)
  } catch (error) {
    return failure(`${relative}: ${(error as NodeJS.ErrnoException).code ?? "cannot open"}`)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) return failure(`${relative}: not a file`)
    const buffer = Buffer.allocUnsafe(stat.size)
    const { bytesRead } = await handle.read(buffer, 0, stat.size, 0)
    return {
      content: [{ type: "text", text: buffer.toString("utf8", 0, bytesRead) }],
      structuredContent: { path: relative, size: stat.size, offset: 0, bytesRead, encoding: "utf8" },
      isError: false
    }
  } finally {
    await handle.close()
  }
}

/** Ends the process when the bench that started it goes away (its stdin closes). */
export const exitWithParent = () => {
  process.stdin.on("end", () => process.exit(0))
  process.stdin.on("error", () => process.exit(0))
  process.stdin.resume()
}

/** The listening port (BENCH_PORT). */
export const portFromEnv = (): number => {
  const port = Number(process.env["BENCH_PORT"])
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new Error("BENCH_PORT is not a port")
  return port
}

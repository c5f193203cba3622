import * as Effect from "effect/Effect"
import * as fs from "node:fs/promises"
import { printableName } from "../printableName.ts"
import type { Sandbox } from "../Sandbox.ts"
import { ToolFailure } from "../ToolDefinition.ts"

const reasons: Record<string, string> = {
  ENOENT: "does not exist",
  EACCES: "is not accessible (permission denied)",
  EPERM: "is not accessible (operation not permitted)",
  EISDIR: "is a directory",
  ENOTDIR: "has a part that is not a directory",
  EEXIST: "already exists",
  ENOSPC: "cannot be written: no space left on the device",
  EROFS: "cannot be written: read-only file system",
  ELOOP: "passes through too many symbolic links",
  ENXIO: "is a special file that cannot be opened here",
  ETXTBSY: "is a program being run and cannot be written",
  // O_NONBLOCK opens: another program holds a lease on it, which the router does not wait out
  EAGAIN: "is held by another program (a file lease); try again later"
}

/** A node:fs error as a failure whose message names the path and the cause. */
export const fsFailure = (relative: string, error: unknown): ToolFailure => {
  const code = (error as NodeJS.ErrnoException).code ?? ""
  return new ToolFailure({ message: `${printableName(relative)} ${reasons[code] ?? `failed: ${(error as Error).message}`}` })
}

/** Runs a node:fs promise, turning its error into a message that names the path and the cause. */
export const fsCall = <A>(relative: string, run: () => Promise<A>) =>
  Effect.tryPromise({ try: run, catch: (error) => fsFailure(relative, error) })

/** A path that must name an existing folder inside the working directory. */
export const existingDirectory = (sandbox: Sandbox["Service"], input: string) =>
  Effect.gen(function*() {
    const folder = yield* sandbox.resolve(input)
    const stat = yield* fsCall(folder.relative, () => fs.stat(folder.absolute))
    if (!stat.isDirectory()) return yield* new ToolFailure({ message: `${printableName(folder.relative)} is not a directory` })
    return folder
  })

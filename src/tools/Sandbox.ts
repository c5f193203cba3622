/**
 * Confines every tool path to `tools.workingDir`. A path is refused when it escapes by `..`, is absolute
 * outside the folder, passes through a symbolic link (a parent folder included) that resolves outside,
 * or holds a NUL byte or is too long.
 */
import { Context, Effect, Layer, Schema } from "effect"
import * as fs from "node:fs/promises"
import * as path from "node:path"
import { AppConfig } from "../config/AppConfig.ts"

/** Linux limits: a whole path and one of its names. */
const maxPathLength = 4096
const maxNameLength = 255

export class PathRefused extends Schema.TaggedError<PathRefused>()("PathRefused", {
  path: Schema.String,
  reason: Schema.String
}) {
  override get message(): string {
    return `Path ${JSON.stringify(this.path)} refused: ${this.reason}`
  }
}

export interface ResolvedPath {
  /** Absolute path inside the working folder, with symbolic links resolved where the path exists. */
  readonly absolute: string
  /** The same path relative to the working folder ("." for the folder itself). */
  readonly relative: string
}

const isInside = (root: string, candidate: string) => {
  const rel = path.relative(root, candidate)
  // "..notes" is a name inside; only ".." itself or "../" leaves the folder
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel))
}

const lstatOrUndefined = (p: string) => fs.lstat(p).catch(() => undefined)

/** Resolves `input` against the real root, following links only as far as the path exists. */
const confine = async (root: string, input: string): Promise<ResolvedPath | string> => {
  if (input.includes("\0")) return "it contains a NUL byte"
  if (input.length > maxPathLength) return `it is longer than ${maxPathLength} characters`
  if (input.split(/[\\/]/).some((name) => name.length > maxNameLength)) {
    return `a name in it is longer than ${maxNameLength} characters`
  }
  const lexical = path.resolve(root, input)
  if (!isInside(root, lexical)) return `it is outside the working directory ${root}`
  // walk up to the deepest part that exists, resolve its links, then re-attach the rest
  let existing = lexical
  const rest: Array<string> = []
  for (;;) {
    const stat = await lstatOrUndefined(existing)
    if (stat !== undefined) break
    rest.unshift(path.basename(existing))
    existing = path.dirname(existing)
  }
  let real: string
  try {
    real = await fs.realpath(existing)
  } catch {
    // an entry that exists but cannot be resolved is a dangling or looping symbolic link
    return "it passes through a symbolic link whose target does not exist"
  }
  const absolute = path.join(real, ...rest)
  if (!isInside(root, absolute)) return `it resolves through a symbolic link to ${real}, outside the working directory ${root}`
  return { absolute, relative: path.relative(root, absolute) || "." }
}

export class Sandbox extends Context.Service<Sandbox, {
  /** The real path of the working folder. */
  readonly root: () => string
  readonly resolve: (input: string) => Effect.Effect<ResolvedPath, PathRefused>
  /** As resolve, for a path about to be written: never inside a .git folder, whose configuration can run programs. */
  readonly resolveForWrite: (input: string) => Effect.Effect<ResolvedPath, PathRefused>
}>()("mcp-router/tools/Sandbox") {
  static readonly layer = Layer.effect(
    Sandbox,
    Effect.gen(function*() {
      const config = yield* AppConfig
      const root = () => config.current().tools.workingDir
      const resolve = (input: string) =>
        Effect.promise(() => confine(root(), input)).pipe(
          Effect.flatMap((result) =>
            typeof result === "string" ? Effect.fail(new PathRefused({ path: input, reason: result })) : Effect.succeed(result)
          )
        )
      return Sandbox.of({
        root,
        resolve,
        resolveForWrite: (input) =>
          Effect.flatMap(resolve(input), (resolved) =>
            resolved.relative.split(path.sep).some((name) => name.toLowerCase() === ".git")
              ? Effect.fail(new PathRefused({ path: input, reason: "it is inside a .git folder, whose configuration can run programs" }))
              : Effect.succeed(resolved))
      })
    })
  )
}

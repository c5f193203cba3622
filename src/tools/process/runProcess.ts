/**
 * Runs one program in its own process group, inside a Scope: when the call times out, is interrupted or
 * its output passes the cap, the group gets SIGTERM and, after a short grace, SIGKILL. Nothing is left
 * running. stdout and stderr are each capped while they stream.
 *
 * The folder it runs in is opened (O_PATH) right before the spawn and its real path compared with `cwd`
 * (the path the Sandbox checked); the program is then started in `/proc/self/fd/N`, so its chdir reaches
 * that very folder even if a symbolic link was swapped in on its path since the check. What remains: the
 * folder itself may be moved elsewhere after this check by someone who can write both places, and the
 * paths a program is given as arguments are opened by the program, by name, after they were checked.
 */
import * as Effect from "effect/Effect"
import * as Stream from "effect/Stream"
import * as ChildProcess from "effect/process/ChildProcess"
import type * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"
import * as fd_ from "../files/fd.ts"
import { printableName } from "../printableName.ts"
import { ToolFailure } from "../ToolDefinition.ts"

/** How long a program may take to exit after SIGTERM before it gets SIGKILL. */
export const killGrace = "2 seconds"

export interface ProcessRequest {
  readonly command: string
  readonly args: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly stdin?: string | undefined
  readonly timeoutMs: number
  readonly maxOutputBytes: number
}

export interface ProcessResult {
  /** The exit code, or null when a signal ended the process. */
  readonly exitCode: number | null
  readonly signal: string | null
  readonly stdout: string
  readonly stderr: string
  readonly stdoutTruncated: boolean
  readonly stderrTruncated: boolean
  readonly timedOut: boolean
  readonly durationMs: number
}

interface CappedOutput {
  chunks: Array<Uint8Array>
  bytes: number
  truncated: boolean
}

/** Collects a stream up to `cap` bytes; past the cap it calls `onOverflow` once and stops reading. */
const collectCapped = (
  stream: Stream.Stream<Uint8Array, unknown>,
  target: CappedOutput,
  cap: number,
  onOverflow: Effect.Effect<void>
) =>
  stream.pipe(
    Stream.runForEachWhile((chunk) =>
      Effect.suspend(() => {
        const room = cap - target.bytes
        if (chunk.length <= room) {
          target.chunks.push(chunk)
          target.bytes += chunk.length
          return Effect.succeed(true)
        }
        target.chunks.push(chunk.subarray(0, room))
        target.bytes = cap
        target.truncated = true
        return Effect.as(onOverflow, false)
      })
    ),
    Effect.ignore
  )

const text = (output: CappedOutput) => Buffer.concat(output.chunks).toString("utf8")

// the platform reports a signal-ended process as a failure whose cause names the signal
const signalOf = (error: { readonly reason?: { readonly cause?: unknown } }) =>
  /signal: '(\w+)'/.exec(String((error.reason?.cause as Error | undefined)?.message))?.[1] ?? "unknown signal"

const procAvailable = fd_.procAvailable()

/**
 * The folder `cwd` opened and checked to still be at that real path; the path reaching it exactly
 * (`/proc/self/fd/N`, open until the scope closes), or `cwd` itself where /proc is not available.
 */
const verifiedFolder = (cwd: string) =>
  !procAvailable
    ? Effect.succeed(cwd)
    : Effect.acquireRelease(
      Effect.try({
        try: () => fd_.openPath(cwd, fd_.O_DIRECTORY),
        catch: (error) => new ToolFailure({ message: `the folder ${printableName(cwd)} cannot be opened to run a program in (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); nothing was run` })
      }),
      (fd) => Effect.sync(() => fd_.close(fd))
    ).pipe(Effect.flatMap((fd) => {
      const real = fd_.realPathOf(fd)
      return real === cwd
        ? Effect.succeed(fd_.procPath(fd))
        : Effect.fail(new ToolFailure({
          message: `the folder ${printableName(cwd)} changed after it was checked (it now leads to ${printableName(real)}); nothing was run`
        }))
    }))

export const runProcess = (
  request: ProcessRequest
): Effect.Effect<ProcessResult, ToolFailure, ChildProcessSpawner.ChildProcessSpawner> =>
  Effect.scoped(
    Effect.gen(function*() {
      const started = performance.now()
      const stdout: CappedOutput = { chunks: [], bytes: 0, truncated: false }
      const stderr: CappedOutput = { chunks: [], bytes: 0, truncated: false }
      const cwd = yield* verifiedFolder(request.cwd)
      const handle = yield* ChildProcess.make(request.command, [...request.args], {
        cwd,
        env: { ...request.env },
        extendEnv: false,
        detached: true,
        forceKillAfter: killGrace,
        stdin: request.stdin === undefined ? "ignore" : Stream.make(new TextEncoder().encode(request.stdin))
      })
      const stop = handle.kill({ forceKillAfter: killGrace }).pipe(Effect.ignore)
      const outcome = yield* Effect.all([
        collectCapped(handle.stdout, stdout, request.maxOutputBytes, stop),
        collectCapped(handle.stderr, stderr, request.maxOutputBytes, stop),
        handle.exitCode.pipe(
          Effect.map((code) => ({ exitCode: Number(code) as number | null, signal: null as string | null })),
          Effect.catch((error) => Effect.succeed({ exitCode: null, signal: signalOf(error) }))
        )
      ], { concurrency: "unbounded" }).pipe(
        Effect.map(([, , exit]) => ({ ...exit, timedOut: false })),
        Effect.timeoutOrElse({
          duration: request.timeoutMs,
          // the scope's finalizer signals the process group as the effect unwinds
          orElse: () => stop.pipe(Effect.as({ exitCode: null, signal: "SIGTERM", timedOut: true }))
        })
      )
      return {
        ...outcome,
        stdout: text(stdout),
        stderr: text(stderr),
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        durationMs: Math.round(performance.now() - started)
      }
    })
  ).pipe(
    Effect.catch((error) =>
      Effect.fail(new ToolFailure({ message: `Could not start ${request.command}: ${(error as Error).message ?? String(error)}` }))
    )
  )

/**
 * The SDK's Transport over a child process spawned with effect's ChildProcessSpawner, so the process
 * belongs to the current Scope: its process group is killed when the scope closes, whatever the SDK
 * does. Newline-delimited JSON-RPC on stdin/stdout (the SDK's own framing); stderr is read and only its
 * tail kept, to say why a process ended.
 */
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js"
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js"
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"
import type * as ChildProcess from "effect/process/ChildProcess"
import * as ChildProcessSpawner from "effect/process/ChildProcessSpawner"

/** Largest message an upstream may send (the SDK's own default bound). */
const maxMessageBytes = 10 * 1024 * 1024
/** Messages waiting to be written to the process's stdin at most; a sender past it waits. */
const maxQueuedWrites = 256
/** How long a process may take to exit once its stdin is closed, before SIGTERM (and SIGKILL as long again). */
const closeGrace = Duration.seconds(2)
const stderrTailBytes = 2048

export interface StdioTransport extends Transport {
  readonly pid: number
  /** The last bytes the process wrote to stderr, as text. */
  readonly stderrTail: () => string
}

export const stdioTransport = (command: ChildProcess.Command) =>
  Effect.gen(function*() {
    const spawner = yield* ChildProcessSpawner.ChildProcessSpawner
    const handle = yield* spawner.spawn(command)
    const context = yield* Effect.context<never>()
    const runPromise = Effect.runPromiseWith(context)
    const input = yield* Queue.bounded<Uint8Array, Cause.Done>(maxQueuedWrites)
    const encoder = new TextEncoder()
    const readBuffer = new ReadBuffer({ maxBufferSize: maxMessageBytes })
    let stderr = ""
    let started: () => void = () => undefined
    const startedPromise = new Promise<void>((resolve) => (started = resolve))
    let closed = false

    const transport: StdioTransport = {
      pid: handle.pid,
      stderrTail: () => stderr,
      start: () => {
        started()
        return Promise.resolve()
      },
      send: (message: JSONRPCMessage) =>
        closed
          ? Promise.reject(new Error("Not connected"))
          : runPromise(Queue.offer(input, encoder.encode(serializeMessage(message)))).then((accepted) => {
            if (!accepted) throw new Error("Not connected")
          }),
      close: () => {
        end()
        return Promise.resolve()
      }
    }

    /** Once: stdin is closed and the SDK told (it fails the requests in flight). */
    const end = () => {
      if (closed) return
      closed = true
      Queue.endUnsafe(input)
      readBuffer.clear()
      transport.onclose?.()
    }

    yield* Stream.fromQueue(input).pipe(
      Stream.run(handle.stdin),
      Effect.catchCause((cause) => Effect.sync(() => transport.onerror?.(new Error(`stdin failed: ${Cause.pretty(cause)}`)))),
      Effect.forkScoped
    )
    yield* handle.stderr.pipe(
      Stream.runForEach((chunk) =>
        Effect.sync(() => {
          stderr = (stderr + Buffer.from(chunk).toString("utf8")).slice(-stderrTailBytes)
        })
      ),
      Effect.ignore,
      Effect.forkScoped
    )
    yield* Effect.promise(() => startedPromise).pipe(
      Effect.andThen(handle.stdout.pipe(Stream.runForEach((chunk) =>
        Effect.sync(() => {
          if (closed) return
          try {
            readBuffer.append(Buffer.from(chunk))
          } catch (error) {
            transport.onerror?.(error as Error)
            return end()
          }
          for (;;) {
            let message: JSONRPCMessage | null
            try {
              message = readBuffer.readMessage()
            } catch (error) {
              // a line that is not JSON-RPC: said, and skipped
              transport.onerror?.(error as Error)
              continue
            }
            if (message === null) break
            transport.onmessage?.(message)
          }
        })
      ))),
      Effect.ignore,
      Effect.ensuring(Effect.sync(end)),
      Effect.forkScoped
    )

    // stdin closed first (the MCP way to end a stdio server), then SIGTERM and SIGKILL for one that stays
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        end()
        const exited = yield* handle.exitCode.pipe(Effect.timeoutOption(closeGrace), Effect.exit)
        if (Exit.isSuccess(exited) && Option.isSome(exited.value)) return
        yield* handle.kill({ killSignal: "SIGTERM", forceKillAfter: closeGrace }).pipe(Effect.ignore)
      })
    )
    return transport
  })

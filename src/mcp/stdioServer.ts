/**
 * MCP over stdin/stdout (newline-delimited JSON), for desktop clients that launch the router. One
 * client, local and trusted: it calls as the `stdio` caller. Messages are served concurrently (a
 * tool call can wait for the client's answer to a sampling request) up to a bound, past which stdin
 * is not read; a line longer than security.maxPayloadBytes is refused and skipped. Serving ends when
 * stdin ends and the answers in flight are written.
 */
import * as Effect from "effect/Effect"
import * as Semaphore from "effect/Semaphore"
import { AppConfig } from "../config/AppConfig.ts"
import { localCaller } from "../router/Caller.ts"
import { JsonRpcCode } from "../router/wire.ts"
import { failure, parseBody } from "./jsonRpc.ts"
import { McpEngine } from "./McpEngine.ts"
import { Peer } from "./Peer.ts"
import { latestVersion } from "./protocols.ts"

/** Messages served at once before stdin waits. */
const maxConcurrent = 64

export const serveStdio = (input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout) =>
  Effect.gen(function*() {
    const engine = yield* McpEngine
    const maxLine = (yield* AppConfig).current().security.maxPayloadBytes
    const write = (message: object) => output.write(`${JSON.stringify(message)}\n`)
    const peer = new Peer("stdio", localCaller("stdio"), latestVersion, { send: (message) => write(message) })
    const detach = engine.attach(peer)
    const slots = yield* Semaphore.make(maxConcurrent)
    const run = Effect.runForkWith(yield* Effect.context<never>())
    let running = 0

    const serveLine = (line: string) => {
      const parsed = parseBody(line)
      const served = parsed.ok
        ? engine.handle(peer, parsed.value).pipe(Effect.map((response) => response !== undefined && write(response)))
        : Effect.sync(() => write(parsed.response))
      running++
      if (running >= maxConcurrent) input.pause()
      run(slots.withPermits(1)(served).pipe(Effect.ensuring(Effect.sync(() => {
        running--
        if (running < maxConcurrent) input.resume()
      }))))
    }

    yield* Effect.callback<void>((resume) => {
      let buffered = ""
      let skipping = false
      const onData = (chunk: Buffer | string) => {
        let text = buffered + chunk.toString()
        let newline = text.indexOf("\n")
        while (newline !== -1) {
          const line = text.slice(0, newline).trim()
          text = text.slice(newline + 1)
          if (skipping) skipping = false
          else if (line.length > 0) serveLine(line)
          newline = text.indexOf("\n")
        }
        if (text.length > maxLine) {
          if (!skipping) write(failure(null, { code: JsonRpcCode.InvalidRequest, message: `A message is larger than ${maxLine} bytes (security.maxPayloadBytes)` }))
          skipping = true
          text = ""
        }
        buffered = text
      }
      const onEnd = () => resume(Effect.void)
      input.on("data", onData)
      input.on("end", onEnd)
      input.on("close", onEnd)
      return Effect.sync(() => {
        input.off("data", onData)
        input.off("end", onEnd)
        input.off("close", onEnd)
      })
    })
    // the answers of requests still running are written before serving ends
    yield* slots.withPermits(maxConcurrent)(Effect.void)
    peer.close()
    detach()
  })

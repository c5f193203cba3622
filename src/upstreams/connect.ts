/**
 * Opens an MCP connection to one upstream with effect's McpClient: stdio upstreams are child processes
 * owned by the connection's Scope (killed when it closes); HTTP upstreams speak Streamable HTTP.
 * effect's client does not surface server notifications, so for stdio the process's output is watched
 * for notifications/tools/list_changed (and its end), which `signals` reports.
 */
import { Effect, Queue, Stream } from "effect"
import { McpClient, McpProtocol } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import { ChildProcess, ChildProcessSpawner } from "effect/process"
import { expandEnv } from "../config/expandEnv.ts"
import type { UpstreamConfig } from "../config/schema.ts"
import { childEnvironment } from "../tools/process/childEnvironment.ts"
import { serverName, version } from "../version.ts"

export type UpstreamSignal = "tools_changed" | "closed"

const listChanged = "notifications/tools/list_changed"

/** A spawner whose processes' stdout is also scanned for list_changed notifications and its end. */
const watchingSpawner = (real: ChildProcessSpawner.ChildProcessSpawner["Service"], signals: Queue.Queue<UpstreamSignal>) =>
  ChildProcessSpawner.make((command) =>
    Effect.map(real.spawn(command), (handle) => {
      let carry = ""
      const stdout = handle.stdout.pipe(
        Stream.tap((chunk) => Effect.sync(() => {
          // a notification may straddle two chunks: keep the tail of the previous one
          const text = carry + Buffer.from(chunk).toString("utf8")
          if (text.includes(listChanged)) Queue.offerUnsafe(signals, "tools_changed")
          carry = text.slice(-listChanged.length)
        })),
        Stream.ensuring(Effect.sync(() => Queue.offerUnsafe(signals, "closed")))
      )
      return ChildProcessSpawner.makeHandle({
        pid: handle.pid,
        exitCode: handle.exitCode,
        isRunning: handle.isRunning,
        kill: handle.kill,
        stdin: handle.stdin,
        stdout,
        stderr: handle.stderr,
        all: handle.all,
        getInputFd: handle.getInputFd,
        getOutputFd: handle.getOutputFd,
        unref: handle.unref
      } as Parameters<typeof ChildProcessSpawner.makeHandle>[0])
    })
  )

const expandAll = (values: Readonly<Record<string, string>>, where: string) =>
  Effect.forEach(Object.entries(values), ([key, value]) => Effect.map(expandEnv(value, `${where} ${key}`), (v) => [key, v] as const)).pipe(
    Effect.map(Object.fromEntries)
  )

/** A connected client, for the life of the current scope, and the queue of its signals. */
export const connect = (upstream: UpstreamConfig, workingDir: string) =>
  Effect.gen(function*() {
    const signals = yield* Queue.unbounded<UpstreamSignal>()
    const identity = { name: serverName, version, timeout: "15 seconds" as const }
    const protocol = McpProtocol.v2025_11_25
    if (upstream.transport.type === "stdio") {
      const env = yield* expandAll(upstream.transport.env, `upstream ${upstream.name} env`)
      const command = ChildProcess.make(upstream.transport.command, [...upstream.transport.args], {
        cwd: upstream.transport.cwd ?? workingDir,
        // the same scrubbed environment as execute_command, plus what the upstream's config names
        env: { ...childEnvironment(workingDir), ...env },
        extendEnv: false
      })
      const real = yield* ChildProcessSpawner.ChildProcessSpawner
      const transport = yield* McpClient.stdio({ command, protocol }).pipe(
        Effect.provideService(ChildProcessSpawner.ChildProcessSpawner, watchingSpawner(real, signals))
      )
      const client = yield* McpClient.make(identity).pipe(Effect.provideService(McpClient.Transport, transport))
      return { client, signals }
    }
    const headers = yield* expandAll(upstream.transport.headers, `upstream ${upstream.name} header`)
    const transport = yield* McpClient.http({ url: upstream.transport.url, protocol, headers }).pipe(Effect.provide(FetchHttpClient.layer))
    const client = yield* McpClient.make(identity).pipe(Effect.provideService(McpClient.Transport, transport))
    return { client, signals }
  })

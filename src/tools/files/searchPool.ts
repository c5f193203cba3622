/**
 * The worker threads search_files runs in: a few long-lived workers, each searching one request at a time.
 *
 * Starting a worker costs tens of milliseconds of start-up and stalls the main thread's event loop for some
 * of them; a search of a hundred small files then takes a few milliseconds. So workers are made when first
 * needed, kept warm, and reused. The Router already bounds the "search" family (tools.concurrency.search,
 * capped at the core count, with tools.maxQueuedCalls waiting), so at most that many searches reach the
 * pool at once and as many workers are kept; one released when more are idle than that bound (after a
 * configuration change) is ended.
 *
 * A search that is interrupted (the call's tools.timeout, the client gone) may be stuck in a regular
 * expression that backtracks for minutes: its worker is terminated, whatever it is doing, and the
 * interruption completes only once it has ended (so the caller may close the folder's descriptor), then a
 * fresh worker takes its place. A worker that dies fails its search and is replaced likewise. Idle workers
 * do not keep the process alive, and the pool ends every worker when its scope closes.
 */
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import { Worker } from "node:worker_threads"
import { ToolFailure } from "../ToolDefinition.ts"
import type { SearchMessage, SearchReply, SearchRequest } from "./searchWorker.ts"

// the worker beside this module: searchWorker.ts run from src/, searchWorker.js from the compiled dist/
const workerUrl = new URL(`./searchWorker${import.meta.url.endsWith(".ts") ? ".ts" : ".js"}`, import.meta.url)

interface Pooled {
  readonly worker: Worker
  /** The search it is running: the one to answer when it replies or dies. */
  pending: { readonly id: number; readonly answer: (reply: SearchReply | Error) => void } | undefined
  exited: boolean
}

export interface SearchPool {
  /**
   * Runs `request` in a worker: its reply (a result, or the file system error that ended the search), or a
   * ToolFailure when the worker died. Interruption terminates the worker and waits until it has ended.
   */
  readonly run: (request: SearchRequest) => Effect.Effect<SearchReply, ToolFailure>
  /** Workers alive now: running a search, and idle. */
  readonly size: () => { readonly busy: number; readonly idle: number }
}

/** A pool keeping up to `warm()` idle workers (read at each release); every worker ends when the scope closes. */
export const makeSearchPool = (warm: () => number): Effect.Effect<SearchPool, never, Scope.Scope> =>
  Effect.gen(function*() {
    const idle: Array<Pooled> = []
    const busy = new Set<Pooled>()
    let closed = false
    let nextId = 0

    const start = (): Pooled => {
      const pooled: Pooled = { worker: new Worker(workerUrl, { workerData: { searchWorker: true } }), pending: undefined, exited: false }
      const { worker } = pooled
      worker.on("message", (reply: SearchReply) => {
        const pending = pooled.pending
        if (pending === undefined || pending.id !== reply.id) return
        pooled.pending = undefined
        pending.answer(reply)
      })
      // an uncaught error ends the worker: "exit" follows and answers its search
      let failure: Error | undefined
      worker.on("error", (error) => {
        failure = error
      })
      worker.once("exit", (code) => {
        pooled.exited = true
        busy.delete(pooled)
        const at = idle.indexOf(pooled)
        if (at >= 0) idle.splice(at, 1)
        const pending = pooled.pending
        pooled.pending = undefined
        pending?.answer(failure ?? new Error(closed ? "the router is shutting down" : `the search worker exited (code ${code})`))
      })
      return pooled
    }

    /** A fresh worker in place of one that ended, so the next search does not wait for a start-up. */
    const replace = () => {
      if (closed || idle.length + busy.size >= warm()) return
      const pooled = start()
      pooled.worker.unref()
      idle.push(pooled)
    }

    const release = (pooled: Pooled) => {
      busy.delete(pooled)
      if (pooled.exited) return
      if (closed || idle.length >= warm()) {
        void pooled.worker.terminate()
        return
      }
      // an idle worker does not keep the process alive
      pooled.worker.unref()
      idle.push(pooled)
    }

    /** Ends a worker whatever it is doing, and waits until it has. */
    const discard = (pooled: Pooled) =>
      Effect.promise(async () => {
        pooled.pending = undefined
        busy.delete(pooled)
        await pooled.worker.terminate()
        replace()
      })

    yield* Effect.addFinalizer(() =>
      Effect.promise(async () => {
        closed = true
        const all = [...idle, ...busy]
        idle.length = 0
        await Promise.all(all.map((pooled) => pooled.worker.terminate()))
      })
    )

    const run = (request: SearchRequest) =>
      Effect.callback<SearchReply, ToolFailure>((resume) => {
        if (closed) return resume(Effect.fail(new ToolFailure({ message: "search failed: the router is shutting down" })))
        let pooled: Pooled
        try {
          pooled = idle.pop() ?? start()
        } catch (error) {
          // no thread could be made (the process's limits)
          return resume(Effect.fail(new ToolFailure({ message: `search failed: ${(error as Error).message}` })))
        }
        busy.add(pooled)
        pooled.worker.ref()
        const id = nextId++
        pooled.pending = {
          id,
          answer: (reply) => {
            if (reply instanceof Error) {
              resume(Effect.fail(new ToolFailure({ message: `search failed: ${reply.message}` })))
              replace()
            } else {
              release(pooled)
              resume(Effect.succeed(reply))
            }
          }
        }
        pooled.worker.postMessage({ id, request } satisfies SearchMessage)
        return Effect.suspend(() => (pooled.exited || !busy.has(pooled) ? Effect.void : discard(pooled)))
      })

    return { run, size: () => ({ busy: busy.size, idle: idle.length }) }
  })

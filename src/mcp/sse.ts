/**
 * Server-sent events of Streamable HTTP. Every message a session sends on a stream gets an event id
 * (`<stream>_<sequence>`) and is kept in the session's bounded replay log, so a client that lost a
 * stream resumes it with GET and `Last-Event-ID`. An open stream is a bounded queue: a client that
 * stops reading loses the connection (not the messages, which stay in the log while they fit).
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Queue from "effect/Queue"
import * as Stream from "effect/Stream"

const encoder = new TextEncoder()

export const sseHeaders = { "cache-control": "no-cache, no-transform", "x-accel-buffering": "no" }

/** Messages an open stream holds for a client that reads slower than they come. */
const maxQueued = 512

/** One open SSE response. */
export class SseChannel {
  private readonly queue: Queue.Queue<Uint8Array, Cause.Done>
  open = true

  constructor() {
    this.queue = Effect.runSync(Queue.make<Uint8Array, Cause.Done>({ capacity: maxQueued }))
  }

  /** Queues an event; false (and the stream ends) when the client is too far behind. */
  write(event: string): boolean {
    if (!this.open) return false
    if (Queue.offerUnsafe(this.queue, encoder.encode(event))) return true
    this.end()
    return false
  }

  end() {
    if (!this.open) return
    this.open = false
    Queue.endUnsafe(this.queue)
  }

  /** The response body; `onClose` runs when it ends, whoever ends it. */
  body(onClose: () => void): Stream.Stream<Uint8Array> {
    return Stream.fromQueue(this.queue).pipe(Stream.ensuring(Effect.sync(() => {
      this.open = false
      onClose()
    })))
  }
}

export const sseEvent = (id: string | undefined, data: string) => (id === undefined ? `event: message\ndata: ${data}\n\n` : `id: ${id}\nevent: message\ndata: ${data}\n\n`)

/** The event that tells a 2025-11-25 client the stream's first id, before any message. */
export const primingEvent = (id: string) => `id: ${id}\ndata: \n\n`

interface Logged {
  readonly id: string
  readonly stream: string
  readonly seq: number
  readonly event: string
}

/** The part of the replay budget one session may hold at most: 1/16. */
const sessionShare = 16

/** Bytes of replay logs of all sessions together. */
export class ReplayBudget {
  used = 0
  readonly limit: number
  constructor(limit: number) {
    this.limit = limit
  }
}

/** A session's recent events, bounded in count and bytes, oldest dropped first. */
export class EventLog {
  private readonly events: Array<Logged> = []
  private bytes = 0
  private seq = 0
  private readonly budget: ReplayBudget
  private readonly maxEvents: number

  constructor(budget: ReplayBudget, maxEvents: number) {
    this.budget = budget
    this.maxEvents = maxEvents
  }

  /** The next id on a stream; the event is kept for replay while it fits. */
  append(stream: string, data: string): { readonly id: string; readonly event: string } {
    const seq = ++this.seq
    const id = `${stream}_${seq}`
    const event = sseEvent(id, data)
    // one session keeps at most a share of the budget, so it cannot crowd the others out
    const ownLimit = this.budget.limit / sessionShare
    if (this.maxEvents > 0 && event.length <= ownLimit) {
      while (
        this.events.length > 0 &&
        (this.events.length >= this.maxEvents || this.bytes + event.length > ownLimit || this.budget.used + event.length > this.budget.limit)
      ) this.dropOldest()
      if (this.budget.used + event.length <= this.budget.limit) {
        this.events.push({ id, stream, seq, event })
        this.bytes += event.length
        this.budget.used += event.length
      }
    }
    return { id, event }
  }

  /** A stream's first id, for its priming event. */
  prime(stream: string) {
    return `${stream}_${++this.seq}`
  }

  /** The stream an event id belongs to and its events after that id still kept; undefined for a malformed id. */
  after(lastEventId: string): { readonly stream: string; readonly events: ReadonlyArray<string> } | undefined {
    const match = /^([A-Za-z0-9-]{1,64})_(\d{1,15})$/.exec(lastEventId)
    if (match === null) return undefined
    const stream = match[1]!
    const seq = Number(match[2])
    return { stream, events: this.events.filter((e) => e.stream === stream && e.seq > seq).map((e) => e.event) }
  }

  private dropOldest() {
    const dropped = this.events.shift()
    if (dropped === undefined) return
    this.bytes -= dropped.event.length
    this.budget.used -= dropped.event.length
  }

  clear() {
    this.budget.used -= this.bytes
    this.bytes = 0
    this.events.length = 0
  }
}

/**
 * Where the messages of one client go (Streamable HTTP). A POST is answered with JSON when its results
 * are all the client gets; the first notification or request sent while it runs turns its answer into
 * an SSE stream that ends with the results. Messages not tied to a request go on the session's GET
 * stream. Sessions keep a replay log so a lost stream resumes with `Last-Event-ID`; a sessionless
 * request has none.
 */
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type { JsonRpcResponse, RequestId } from "./jsonRpc.ts"
import type { PeerOutput } from "./Peer.ts"
import { EventLog, primingEvent, type ReplayBudget, SseChannel, sseEvent } from "./sse.ts"

/** Revisions whose clients expect a priming event (an id with empty data) first on every stream. */
const priming = new Set(["2025-11-25"])

/** An SSE comment (clients skip it) that opens a stream with nothing to send yet. */
const openedComment = ": stream open\n\n"

/** The id of the session's own (GET) stream. */
const standaloneStream = "g"

export type PostOutcome = { readonly _tag: "Json"; readonly responses: ReadonlyArray<JsonRpcResponse> } | { readonly _tag: "Sse"; readonly channel: SseChannel }

/** The answer to one POST that carries requests. */
export class PostStream {
  readonly outcome = Deferred.makeUnsafe<PostOutcome>()
  channel: SseChannel | undefined
  finished = false
  private readonly owner: SessionStreams
  readonly id: string
  private readonly sse: boolean

  constructor(owner: SessionStreams, id: string, sse: boolean) {
    this.owner = owner
    this.id = id
    this.sse = sse
  }

  /** Sends a message on this stream; false when the client takes no stream here. */
  write(data: string): boolean {
    if (this.finished || !this.sse) return false
    const event = this.owner.record(this.id, data)
    if (this.channel === undefined) {
      this.channel = this.owner.newChannel(this.id)
      Deferred.doneUnsafe(this.outcome, Effect.succeed({ _tag: "Sse", channel: this.channel }))
    }
    this.channel.write(event)
    return true
  }

  finish(responses: ReadonlyArray<JsonRpcResponse>) {
    if (this.finished) return
    if (this.channel === undefined) {
      this.finished = true
      Deferred.doneUnsafe(this.outcome, Effect.succeed({ _tag: "Json", responses }))
      return
    }
    for (const response of responses) this.channel.write(this.owner.record(this.id, JSON.stringify(response)))
    this.finished = true
    this.channel.end()
  }
}

export class SessionStreams implements PeerOutput {
  private standalone: SseChannel | undefined
  private readonly byRequest = new Map<RequestId, PostStream>()
  private readonly byStream = new Map<string, PostStream>()
  private readonly log: EventLog | undefined
  private nextStream = 0
  protocolVersion: () => string = () => ""

  /** A session's streams, with a replay log; without a budget, a sessionless request's. */
  constructor(budget: ReplayBudget | undefined, replayEvents: number) {
    this.log = budget === undefined ? undefined : new EventLog(budget, replayEvents)
  }

  /** Whether a lost stream can be resumed (a session's), so its work goes on without a reader. */
  get resumable() {
    return this.log !== undefined
  }

  /** The event that carries `data` on a stream, kept for replay. */
  record(stream: string, data: string) {
    return this.log === undefined ? sseEvent(undefined, data) : this.log.append(stream, data).event
  }

  /** An open stream; its first bytes go out at once, so the client has the response's headers before any message. */
  newChannel(stream: string) {
    const channel = new SseChannel()
    channel.write(this.log !== undefined && priming.has(this.protocolVersion()) ? primingEvent(this.log.prime(stream)) : openedComment)
    return channel
  }

  /** A POST's stream for these requests; `sse`: the client accepts an event stream. */
  post(ids: ReadonlyArray<RequestId>, sse: boolean): PostStream {
    const stream = new PostStream(this, `p${++this.nextStream}`, sse)
    for (const id of ids) this.byRequest.set(id, stream)
    this.byStream.set(stream.id, stream)
    return stream
  }

  /** The POST is answered: its requests no longer take messages; its events stay in the log for replay. */
  settled(ids: ReadonlyArray<RequestId>, stream: PostStream) {
    for (const id of ids) if (this.byRequest.get(id) === stream) this.byRequest.delete(id)
    // resuming it now replays its events from the log, results included
    this.byStream.delete(stream.id)
  }

  send(message: object, related: RequestId | undefined): boolean {
    const data = JSON.stringify(message)
    if (related !== undefined && this.byRequest.get(related)?.write(data) === true) return true
    if (this.standalone === undefined) return false
    // once the client has had a GET stream, what it misses while away is kept for its resumption
    const event = this.record(standaloneStream, data)
    return this.standalone.open && this.standalone.write(event)
  }

  /** Whether the client has a GET stream open. */
  listening() {
    return this.standalone?.open === true
  }

  /** A GET stream: false when one is open already. */
  openStandalone(): SseChannel | undefined {
    if (this.standalone?.open === true) return undefined
    const channel = this.newChannel(standaloneStream)
    this.standalone = channel
    return channel
  }

  /**
   * A stream resumed after `lastEventId`: its kept events again, then what follows on it (for the GET
   * stream, or a POST still running). Undefined when the id is not one of this session's.
   */
  resume(lastEventId: string): SseChannel | "busy" | undefined {
    const found = this.log?.after(lastEventId)
    if (found === undefined) return undefined
    if (found.stream === standaloneStream) {
      if (this.standalone?.open === true) return "busy"
      const channel = new SseChannel()
      channel.write(openedComment)
      for (const event of found.events) channel.write(event)
      this.standalone = channel
      return channel
    }
    const post = this.byStream.get(found.stream)
    const channel = new SseChannel()
    channel.write(openedComment)
    for (const event of found.events) channel.write(event)
    // a POST still to be answered as JSON has no stream to resume: it answers on its own connection
    if (post === undefined || post.finished || post.channel === undefined) channel.end()
    else {
      post.channel?.end()
      post.channel = channel
    }
    return channel
  }

  close() {
    this.standalone?.end()
    for (const stream of this.byStream.values()) stream.channel?.end()
    this.byRequest.clear()
    this.byStream.clear()
    this.log?.clear()
  }
}

import * as Schema from "effect/Schema"
import type { AuditUnavailable } from "../security/AuditLog.ts"
import type { PermissionDenied, RateLimited } from "../security/SecurityErrors.ts"

export class UnknownTool extends Schema.TaggedError<UnknownTool>()("UnknownTool", {
  name: Schema.String
}) {
  override get message(): string {
    return `Unknown tool "${this.name}"; tools/list shows the tools you can call`
  }
}

export const ArgumentProblem = Schema.Struct({ path: Schema.String, message: Schema.String })

export class InvalidArguments extends Schema.TaggedError<InvalidArguments>()("InvalidArguments", {
  tool: Schema.String,
  problems: Schema.Array(ArgumentProblem)
}) {
  override get message(): string {
    return `Invalid arguments for ${this.tool}: ${this.problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join("; ")}`
  }
}

/** Too many calls of a tool family run and wait already: the caller should retry shortly. */
export class ToolBusy extends Schema.TaggedError<ToolBusy>()("ToolBusy", {
  family: Schema.String,
  running: Schema.Number,
  queued: Schema.Number
}) {
  /** A short, fixed hint: calls of a family finish within tools.timeout at most. */
  get retryAfterSeconds(): number {
    return 2
  }
  override get message(): string {
    return `The router is busy: ${this.running} ${this.family} tool calls are running and ${this.queued} waiting (tools.concurrency.${this.family}); retry in a few seconds`
  }
}

/**
 * `RateLimited`: the caller has used its tool calls of the minute or hour (security.maxRequestsPerMinute, ...).
 * `AuditUnavailable`: the call's audit entry cannot be written (the store is failing or its queue is full).
 */
export type RouterError = UnknownTool | InvalidArguments | PermissionDenied | RateLimited | AuditUnavailable | ToolBusy

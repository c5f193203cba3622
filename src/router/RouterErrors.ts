import { Schema } from "effect"
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

/**
 * `RateLimited`: the caller has used its tool calls of the minute or hour (security.maxRequestsPerMinute, ...).
 * `AuditUnavailable`: the call's audit entry cannot be written (the store is failing or its queue is full).
 */
export type RouterError = UnknownTool | InvalidArguments | PermissionDenied | RateLimited | AuditUnavailable

/**
 * The one call path of every entry point (/mcp, JSON-RPC, stdio, WebSocket): find the tool, decode its
 * arguments by Schema, run it under the configured timeout, and record the outcome. Entry points only
 * translate their wire format to `list` / `call` and back.
 *
 * Rate limits count tool calls, not HTTP requests: every call that reaches `call` takes one from the
 * caller's budget (RateLimits: per key, per client address when anonymous) before anything else is
 * decided, so one JSON-RPC batch or MCP session cannot hold more calls than the limit. Calls of unknown
 * tools and calls the key may not make count too: each is still audited, and probing for tool names
 * is what a limit is for. Past the limit the call fails with `RateLimited` (not audited: the
 * security stats count it). Local stdio calls are never limited, and without the security layer
 * (a library user's Router) nothing is counted.
 */
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as References from "effect/References"
import * as SchemaIssue from "effect/SchemaIssue"
import { availableParallelism } from "node:os"
import { AppConfig } from "../config/AppConfig.ts"
import { Events } from "../observability/Events.ts"
import { recordToolCall, type ToolOutcome, toolsInFlight } from "../observability/instruments.ts"
import { type AuditEvent, AuditSink, summariseArguments } from "../security/AuditLog.ts"
import { allows, describeRequirement, needTool } from "../security/permissions.ts"
import { RateLimits } from "../security/RateLimits.ts"
import { PermissionDenied } from "../security/SecurityErrors.ts"
import { SecurityStats } from "../security/SecurityStats.ts"
import type { ToolDefinition, ToolOutput } from "../tools/ToolDefinition.ts"
import { ToolRegistry } from "../tools/ToolRegistry.ts"
import type { Caller } from "./Caller.ts"
import { argumentProblem } from "./argumentLimits.ts"
import { makeFamilyLimits } from "./FamilyLimits.ts"
import { runWatched } from "./runWatched.ts"
import { InvalidArguments, type RouterError, UnknownTool } from "./RouterErrors.ts"

const formatIssues = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * What the audit trail keeps of a call: who, what, how it went; of the arguments only their names and a
 * digest (computed without recursion, whatever their depth). Every outcome of `call` past the rate limit
 * goes through `audit.audited`: a call is refused before it runs while the audit store is failing, and
 * its result (or its error) is returned only once its entry is committed, else AuditUnavailable.
 */
const auditEvent = (caller: Caller, tool: string, args: unknown, outcome: AuditEvent["outcome"], durationMs?: number): AuditEvent => ({
  actor: caller.keyId ?? (caller.transport === "stdio" ? "local" : "anonymous"),
  action: "tool.call",
  target: tool,
  outcome,
  ...(durationMs === undefined ? {} : { durationMs }),
  details: {
    transport: caller.transport,
    ...(caller.ip === undefined ? {} : { ip: caller.ip }),
    ...summariseArguments(args)
  }
})

const failedOutput = (message: string): ToolOutput => ({ content: [{ type: "text", text: message }], isError: true })

export class Router extends Context.Service<Router, {
  /** The tools this caller may call. */
  readonly list: (caller: Caller) => ReadonlyArray<ToolDefinition>
  /** Runs a tool; a failure while it runs is an `isError` output, not an error of this effect. */
  readonly call: (caller: Caller, name: string, args: unknown) => Effect.Effect<ToolOutput, RouterError>
}>()("mcp-router/router/Router") {
  static readonly layer = Layer.effect(
    Router,
    Effect.gen(function*() {
      const registry = yield* ToolRegistry
      const config = yield* AppConfig
      const audit = yield* AuditSink
      const events = yield* Events
      const published = (caller: Caller, tool: string, outcome: ToolOutcome, durationMs: number) =>
        events.publish({
          type: "tool_executed",
          tool,
          keyName: caller.keyName ?? (caller.transport === "stdio" ? "local" : "anonymous"),
          transport: caller.transport,
          outcome,
          durationMs: Math.round(durationMs * 100) / 100,
          at: new Date().toISOString()
        })
      // counted in /api/security/stats when the security layer is there (not on stdio)
      const securityStats = yield* Effect.serviceOption(SecurityStats)
      const mayCall = (caller: Caller, name: string) => allows(caller.permissions, needTool(name))
      // one tool call from the caller's budget; the service is absent for library users without security
      const rateLimits = yield* Effect.serviceOption(RateLimits)
      const counted = (caller: Caller): Effect.Effect<void, RouterError> =>
        Option.isNone(rateLimits) || caller.transport === "stdio"
          ? Effect.void
          : Effect.asVoid(rateLimits.value.consume({
            keyId: caller.keyId,
            ip: caller.ip ?? "unknown",
            ratePerMinute: caller.ratePerMinute,
            ratePerHour: caller.ratePerHour,
            permissions: caller.permissions
          }))
      // searches run in worker threads: never more at once than the machine has cores
      const families = makeFamilyLimits((family) => {
        const { concurrency, maxQueuedCalls } = config.current().tools
        return { running: family === "search" ? Math.min(concurrency.search, availableParallelism()) : concurrency[family], queued: maxQueuedCalls }
      })
      const call = (caller: Caller, name: string, args: unknown) =>
        counted(caller).pipe(Effect.andThen(Effect.suspend((): Effect.Effect<ToolOutput, RouterError> => {
          const { maxArgumentDepth, maxArgumentBytes } = config.current().tools
          const tooLarge = argumentProblem(args, { maxDepth: maxArgumentDepth, maxBytes: maxArgumentBytes })
          if (tooLarge !== undefined) {
            // audited without the arguments: they are what the bound keeps away from every other code
            return audit.audited(
              Effect.fail(new InvalidArguments({ tool: name, problems: [{ path: "", message: tooLarge }] })),
              () => auditEvent(caller, name, undefined, "error")
            )
          }
          const tool = registry.find(name)
          if (tool === undefined) {
            // probing for tool names is worth knowing about: audited, but not a metric label (unbounded)
            return audit.audited(Effect.fail(new UnknownTool({ name })), () => auditEvent(caller, name, args, "error"))
          }
          if (!mayCall(caller, name)) {
            return audit.audited(
              Effect.sync(() => published(caller, name, "denied", 0)).pipe(
                Effect.andThen(recordToolCall(name, "denied", 0)),
                Effect.andThen(Option.match(securityStats, { onNone: () => Effect.void, onSome: (stats) => stats.record("permissionDenied") })),
                Effect.andThen(Effect.fail(new PermissionDenied({ keyName: caller.keyName ?? "anonymous", needed: describeRequirement(needTool(name)) })))
              ),
              () => auditEvent(caller, name, args, "denied")
            )
          }
          const started = performance.now()
          const timeoutMs = config.current().tools.timeout
          const inFlight = Metric.withAttributes(toolsInFlight, { tool: name })
          const run = Metric.modify(inFlight, 1).pipe(Effect.andThen(tool.decode(args ?? {})),
            Effect.mapError((error) =>
              new InvalidArguments({
                tool: name,
                problems: formatIssues(error.issue).issues.map((issue) => ({
                  path: (issue.path ?? []).map(String).join("."),
                  message: issue.message
                }))
              })
            ),
            Effect.flatMap((input) =>
              runWatched(tool.run(input), { timeout: { ms: timeoutMs, answer: () => failedOutput(`${name} timed out after ${timeoutMs} ms (tools.timeout)`) } }).pipe(
                Effect.catch((error) => Effect.succeed(failedOutput(error.message))),
                Effect.catchDefect((defect) =>
                  Effect.logError("tool crashed", { tool: name }, defect).pipe(
                    Effect.as(failedOutput(`${name} failed unexpectedly; the router's log has the details`))
                  )
                )
              )
            ),
            // invalid arguments count as a failed call of that tool, like a failure while running
            Effect.onExit((exit) => {
              const durationMs = performance.now() - started
              // the only failure left here is InvalidArguments; an interrupted call (cancelled, timed out) is an error
              const outcome: ToolOutcome = exit._tag === "Failure"
                ? (Cause.hasInterruptsOnly(exit.cause) ? "error" : "invalid")
                : exit.value.isError === true ? "error" : "ok"
              published(caller, name, outcome, durationMs)
              return Metric.modify(inFlight, -1).pipe(Effect.andThen(recordToolCall(name, outcome, durationMs / 1000)))
            })
          )
          // the entry is built as the call ends; the caller sees the result once the entry is on disk
          return audit.audited(families.run(tool.family, run), (exit) =>
            auditEvent(caller, name, args, exit._tag === "Success" && exit.value.isError !== true ? "ok" : "error", performance.now() - started))
        })))
      // a span per call only when tracing is on (see observability/Tracing.ts): one costs a stack trace
      const tracing = yield* References.TracerEnabled
      return Router.of({
        list: (caller) => registry.all().filter((tool) => mayCall(caller, tool.name)),
        call: tracing
          ? (caller, name, args) => Effect.withSpan(call(caller, name, args), "Router.call", { attributes: { "gen_ai.tool.name": name, "mcp.transport": caller.transport } })
          : call
      })
    })
  )
}

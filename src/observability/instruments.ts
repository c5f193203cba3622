/**
 * Every metric the router records, defined once with Effect's Metric API. Names and units follow
 * Prometheus conventions (seconds, bytes, _total); label values are bounded: route templates, tool names,
 * outcomes, codes; never keys, paths or arguments.
 */
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"

const secondsBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

export const httpRequests = Metric.counter("mcp_router_http_requests_total", { description: "HTTP requests by route, method and status", incremental: true })
export const httpDuration = Metric.histogram("mcp_router_http_request_duration_seconds", { description: "HTTP request duration by route and method", boundaries: secondsBuckets })
export const toolCalls = Metric.counter("mcp_router_tool_calls_total", { description: "Tool calls by tool and outcome (ok, error, denied, invalid)", incremental: true })
export const toolDuration = Metric.histogram("mcp_router_tool_call_duration_seconds", { description: "Tool call duration by tool", boundaries: secondsBuckets })
export const toolsInFlight = Metric.gauge("mcp_router_tool_calls_in_flight", { description: "Tool calls running now" })
export const jsonRpcErrors = Metric.counter("mcp_router_jsonrpc_errors_total", { description: "JSON-RPC errors answered, by code", incremental: true })
export const authFailures = Metric.counter("mcp_router_auth_failures_total", { description: "Failed authentications by reason", incremental: true })
export const rateLimited = Metric.counter("mcp_router_rate_limited_total", { description: "Requests refused by rate limits", incremental: true })
export const blockedRequests = Metric.counter("mcp_router_blocked_requests_total", { description: "Requests refused for their address or origin", incremental: true })
export const websocketConnections = Metric.gauge("mcp_router_websocket_connections", { description: "Open WebSocket connections" })
export const mcpSessionsOpen = Metric.gauge("mcp_router_mcp_sessions", { description: "MCP sessions at /mcp this router holds" })
export const residentMemory = Metric.gauge("process_resident_memory_bytes", { description: "Resident memory size in bytes" })
export const heapUsed = Metric.gauge("nodejs_heap_used_bytes", { description: "V8 heap in use in bytes" })
export const cpuSeconds = Metric.gauge("process_cpu_seconds", { description: "User and system CPU time spent, in seconds" })
export const eventLoopDelay = Metric.gauge("nodejs_eventloop_delay_p99_seconds", { description: "99th percentile of event-loop delay since the previous sample, in seconds" })
export const auditStoreFailing = Metric.gauge("mcp_router_audit_store_failing", { description: "1 while the audit store cannot write entries (tool calls are refused), else 0" })
export const auditWriteFailures = Metric.counter("mcp_router_audit_write_failures_total", { description: "Audit batches that could not be written", incremental: true })
export const buildInfo = Metric.gauge("mcp_router_build_info", { description: "Always 1; the version and Node.js version are labels" })

export type ToolOutcome = "ok" | "error" | "denied" | "invalid"

/**
 * A metric with attributes, made once per distinct label set: labels here are bounded (tool names,
 * route templates, methods, statuses), and making one per update costs a key of its attributes each time.
 */
const labelled = <M extends Metric.Metric<any, any>>(metric: M, bound: number) => {
  const made = new Map<string, M>()
  return (key: string, attributes: Record<string, string>): M => {
    let found = made.get(key)
    if (found === undefined) {
      found = Metric.withAttributes(metric, attributes) as M
      if (made.size < bound) made.set(key, found)
    }
    return found
  }
}
const toolCallsBy = labelled(toolCalls, 10_000)
const toolDurationBy = labelled(toolDuration, 10_000)
const httpRequestsBy = labelled(httpRequests, 10_000)
const httpDurationBy = labelled(httpDuration, 10_000)

export const recordToolCall = (tool: string, outcome: ToolOutcome, seconds: number) =>
  Effect.andThen(
    Metric.update(toolCallsBy(`${tool}\n${outcome}`, { tool, outcome }), 1),
    Metric.update(toolDurationBy(tool, { tool }), seconds)
  )

export const recordHttpRequest = (route: string, method: string, status: number, seconds: number) =>
  Effect.andThen(
    Metric.update(httpRequestsBy(`${route}\n${method}\n${status}`, { route, method, status: String(status) }), 1),
    Metric.update(httpDurationBy(`${route}\n${method}`, { route, method }), seconds)
  )

export const recordJsonRpcError = (code: number) => Metric.update(Metric.withAttributes(jsonRpcErrors, { code: String(code) }), 1)

export const websocketMessages = Metric.counter("mcp_router_websocket_messages_total", { description: "WebSocket messages by direction (in, out) and type", incremental: true })
export const websocketDropped = Metric.counter("mcp_router_websocket_dropped_messages_total", { description: "Broadcast messages dropped for slow WebSocket clients", incremental: true })
export const websocketCloses = Metric.counter("mcp_router_websocket_closes_total", { description: "WebSocket connections closed, by close code", incremental: true })

export const upstreamUp = Metric.gauge("mcp_router_upstream_up", { description: "1 while an upstream MCP server is connected, else 0" })
export const upstreamCalls = Metric.counter("mcp_router_upstream_calls_total", { description: "Calls routed to upstream MCP servers, by upstream and outcome", incremental: true })
export const upstreamDuration = Metric.histogram("mcp_router_upstream_call_duration_seconds", { description: "Duration of calls routed to an upstream", boundaries: secondsBuckets })

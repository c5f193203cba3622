/** Who may use each route: the endpoint table of the README's Security section, in one place. */
import { needAdmin, needRead, type Requirement } from "../security/permissions.ts"

/**
 * public: no key needed; authenticated: any valid key (tool calls are then checked per tool);
 * websocket: a key now or in the connection's first message.
 */
export type Access = "public" | "authenticated" | "websocket" | Requirement

const readRoutes = new Set(["/api/tools", "/api/stats", "/logs", "/metrics", "/api/security/stats", "/api/alerts", "/api/upstreams"])
const adminRoutes = new Set(["/config", "/api/audit"])

export const routeAccess = (path: string): Access => {
  if (path === "/health" || path.startsWith("/health/")) return "public"
  if (path === "/ws") return "websocket"
  if (readRoutes.has(path) || path.startsWith("/metrics/")) return needRead
  if (adminRoutes.has(path)) return needAdmin
  return "authenticated"
}

/** Entry points that speak JSON-RPC: their refusals are JSON-RPC error objects too. */
export const speaksJsonRpc = (path: string) => path === "/mcp" || path === "/api/mcp/jsonrpc"

const knownRoutes = new Set([
  "/health", "/health/live", "/health/ready", "/mcp", "/api/mcp/jsonrpc", "/api/tools", "/api/stats", "/logs", "/metrics",
  "/metrics/prometheus", "/metrics/history", "/config", "/api/audit", "/api/security/stats", "/api/alerts", "/api/upstreams", "/ws"
])

/** The route as a metric label: a known route, or "other", so label values stay bounded. */
export const routeLabel = (path: string) => (knownRoutes.has(path) ? path : "other")

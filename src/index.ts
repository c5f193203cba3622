/**
 * MCP Router Pro as a library: the services and Layers another Effect program composes.
 */
export { AppConfig } from "./config/AppConfig.ts"
export { ConfigError } from "./config/ConfigError.ts"
export { environmentVariables, loadConfig } from "./config/load.ts"
export { RouterConfig } from "./config/schema.ts"
export { HttpRoutes, HttpServerLayer } from "./http/HttpApp.ts"
export { type LogEntry, LogBuffer, makeLoggingLayer } from "./logging/Logging.ts"
export { redactText, redactValue } from "./logging/redact.ts"
export {
  BuiltInToolsLayer,
  type ExtraTools,
  main,
  routerCoreLayer,
  RouterCoreLayer,
  SecurityLayer,
  serverLayer,
  stdioLayer,
  storageLayer
} from "./main.ts"
export { CallContext, type ClientChannel, ClientRequestFailed } from "./mcp/CallContext.ts"
export { McpEngine } from "./mcp/McpEngine.ts"
export { McpSessions } from "./mcp/McpSessions.ts"
export { type StatsSnapshot, ToolStats } from "./observability/ToolStats.ts"
export { type Caller, localCaller, type Transport } from "./router/Caller.ts"
export { CurrentCaller } from "./router/CurrentCaller.ts"
export { Router } from "./router/Router.ts"
export { InvalidArguments, ToolBusy, UnknownTool } from "./router/RouterErrors.ts"
export { AuditUnavailable } from "./security/AuditLog.ts"
export { FileToolsLayer } from "./tools/files/FileTools.ts"
export { PathRefused, Sandbox } from "./tools/Sandbox.ts"
export {
  defineTool,
  inFamily,
  jsonOutput,
  textOutput,
  type ToolAnnotations,
  type ToolDefinition,
  type ToolError,
  ToolFailure,
  type ToolFamily,
  type ToolOutput
} from "./tools/ToolDefinition.ts"
export { ToolRegistry } from "./tools/ToolRegistry.ts"
export { DockerToolsLayer } from "./tools/docker/DockerTools.ts"
export { ProcessToolsLayer } from "./tools/process/ProcessTools.ts"
export { Databases } from "./tools/sql/Databases.ts"
export { SqlToolsLayer } from "./tools/sql/SqlTools.ts"
export { WebToolsLayer } from "./tools/web/WebTools.ts"
export { Metrics } from "./observability/Metrics.ts"
export { Events, type RouterEvent } from "./observability/Events.ts"
export { Alerts } from "./observability/Alerts.ts"
export { Readiness } from "./observability/Readiness.ts"
export { Sampler } from "./observability/Sampler.ts"
export { Upstreams, type UpstreamStatus } from "./upstreams/Upstreams.ts"
export { WsHub } from "./ws/WsHub.ts"
export { AuditLog, AuditSink } from "./security/AuditLog.ts"
export { Auth } from "./security/Auth.ts"
export { KeyStore } from "./security/KeyStore.ts"
export { RateLimits } from "./security/RateLimits.ts"

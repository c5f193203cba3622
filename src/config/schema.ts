/**
 * The one Schema of the router's configuration. Every key has a default, so a config file
 * may hold only what it changes; unknown keys are errors (see `decodeConfig`).
 */
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { parseAddressRange } from "../net/addressRange.ts"

// the default is shown in the generated JSON Schema too, so editors can tell it
const withDefault = <S extends Schema.Top>(schema: S, value: S["Encoded"]) =>
  (schema.annotate({ default: value } as never) as S).pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

const described = <S extends Schema.Top>(schema: S, description: string) =>
  schema.annotate({ description } as never) as S["Rebuild"]

const Port = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 65535 }))
const Millis = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3_600_000 }))
const Bytes = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1024 * 1024 * 1024 }))
const Count = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 }))
const Name = Schema.String.check(Schema.isNonEmpty())

/** An IPv4 or IPv6 address, optionally with a /prefix length: "10.0.0.0/8", "2001:db8::/32", "192.0.2.7". */
const AddressOrRange = Name.check(
  Schema.makeFilter((entry: string) =>
    parseAddressRange(entry) === undefined ? "Expected an IP address or CIDR range such as 10.0.0.0/8 or 2001:db8::/32" : undefined
  )
)

export const LogLevelName = Schema.Literals(["trace", "debug", "info", "warn", "error", "fatal", "none"])
export type LogLevelName = typeof LogLevelName.Type

export const ServerConfig = Schema.Struct({
  port: withDefault(described(Port, "TCP port of the HTTP server; 0 picks a free one"), 3001),
  host: withDefault(described(Name, "Interface to bind; 127.0.0.1 keeps the router local"), "0.0.0.0"),
  timeout: withDefault(described(Millis, "Longest time one HTTP request may take, in ms"), 60_000),
  shutdownTimeout: withDefault(described(Millis, "How long in-flight calls may finish on SIGINT/SIGTERM, in ms"), 10_000),
  headersTimeout: withDefault(described(Millis, "How long a client may take to send a request's headers, in ms; then the connection is closed"), 10_000),
  requestTimeout: withDefault(
    described(Millis, "How long a client may take to send a whole request (headers and body), in ms; then it gets 408 and the connection is closed"),
    30_000
  )
})

export const AuthFailureLimit = Schema.Struct({
  maxFailures: withDefault(described(Count, "Failed authentications from one address within the window that block it"), 10),
  windowSeconds: withDefault(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 86_400 })), 300),
  blockSeconds: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 604_800 })), "How long such an address stays blocked"),
    900
  )
})

export const SecurityConfig = Schema.Struct({
  requireApiKey: withDefault(described(Schema.Boolean, "Require an API key on every non-health endpoint"), true),
  adminKey: Schema.optionalKey(described(Name, "Bootstrap admin API key (prefer MCP_ADMIN_KEY)")),
  maxRequestsPerMinute: withDefault(
    described(Count, "Tool calls (and other API requests) per minute, per key or, when anonymous, per client address; a key's ratePerMinute overrides it"),
    100
  ),
  maxRequestsPerHour: withDefault(
    described(Count, "Tool calls (and other API requests) per hour, per key or, when anonymous, per client address; a key's ratePerHour overrides it"),
    1000
  ),
  adminRequestsPerMinute: withDefault(
    described(Count, "Per-minute limit of keys holding admin or * (instead of maxRequestsPerMinute) unless the key has its own ratePerMinute"),
    1000
  ),
  adminRequestsPerHour: withDefault(
    described(Count, "Per-hour limit of keys holding admin or * (instead of maxRequestsPerHour) unless the key has its own ratePerHour"),
    20_000
  ),
  maxBatchSize: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 })), "Most messages one JSON-RPC batch may hold (at /api/mcp/jsonrpc and /mcp); each tools/call in it counts against the rate limit"),
    100
  ),
  allowedOrigins: withDefault(
    described(Schema.Array(Name), "Browser origins allowed by CORS and on /mcp; \"*\" must be chosen explicitly"),
    []
  ),
  maxPayloadBytes: withDefault(described(Bytes, "Largest request body accepted, in bytes"), 1024 * 1024),
  blockedIps: withDefault(described(Schema.Array(AddressOrRange), "Addresses and CIDR ranges refused before anything runs"), []),
  allowQueryApiKey: withDefault(
    described(Schema.Boolean, "Accept ?api_key=... (for clients that cannot set headers); it is redacted from every log line"),
    true
  ),
  trustedProxies: withDefault(
    described(Schema.Array(AddressOrRange), "Proxy addresses and CIDR ranges whose X-Forwarded-For is believed"),
    []
  ),
  authFailureLimit: withDefault(AuthFailureLimit, {}),
  auditRetentionDays: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 3650 })), "Days audit entries are kept"),
    90
  )
})

/** postgres:// or postgresql://, with a host and a database. */
const isPostgresUrl = Schema.makeFilter((url: string) =>
  /^postgres(ql)?:\/\//u.test(url) && URL.canParse(url) && new URL(url).hostname !== "" && new URL(url).pathname.length > 1
    ? undefined
    : "Expected a PostgreSQL URL such as postgres://user:password@db.internal:5432/mcp_router"
)

export const StorageConfig = Schema.Struct({
  dataDir: withDefault(
    described(Name, "Folder of the embedded SQLite database: API keys, audit trail, configuration versions"),
    "data"
  ),
  auditQueueSize: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1_000_000 })), "Tool calls that may wait for their audit entry to be written; past it a call is refused (-32050) before it runs"),
    4096
  ),
  // described before the check, so that the JSON Schema shows the description
  url: Schema.optionalKey(described(
    Name,
    "PostgreSQL database for API keys, the audit trail and configuration versions, shared by every replica that names it (storage.dataDir is then unused); unset keeps them in the embedded SQLite file. Read at start"
  ).check(isPostgresUrl))
})

export const LoggingConfig = Schema.Struct({
  level: withDefault(LogLevelName, "info"),
  enableConsole: withDefault(Schema.Boolean, true),
  enableFile: withDefault(Schema.Boolean, false),
  logDir: withDefault(described(Name, "Folder of the log files (relative to the process's folder)"), "logs"),
  maxFileBytes: withDefault(described(Bytes, "Size at which the log file is rotated"), 10 * 1024 * 1024),
  maxFiles: withDefault(described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 100 })), "Rotated files kept"), 5),
  bufferSize: withDefault(described(Count, "Recent entries kept in memory for GET /logs"), 1000)
})

export const NetworkConfig = Schema.Struct({
  allowedHosts: withDefault(
    described(
      Schema.Array(Name),
      "Hosts, addresses or CIDR ranges fetch_url and api_call may reach even when private or loopback"
    ),
    []
  ),
  deniedHosts: withDefault(described(Schema.Array(Name), "Hosts, addresses or CIDR ranges that are always refused"), []),
  maxRedirects: withDefault(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 20 })), 5)
})

export const ApiConfig = Schema.Struct({
  baseUrl: described(Name, "http(s) base URL; api_call paths are resolved against it"),
  headers: withDefault(
    described(Schema.Record(Schema.String, Schema.String), "Headers added to every call; ${VAR} takes an environment variable"),
    {}
  ),
  timeout: Schema.optionalKey(Millis)
})

export const DatabaseConfig = Schema.Struct({
  name: Name,
  url: described(Name, "sqlite:relative/or/absolute.db, or postgres://user:pass@host:port/db (${VAR} allowed)"),
  readOnly: withDefault(Schema.Boolean, true),
  maxRows: withDefault(Count, 1000),
  timeout: withDefault(described(Millis, "Longest a statement may run, in ms"), 10_000)
})

const Slots = Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 10_000 }))

/** Calls running at once per tool family; searches also never run on more worker threads than the machine has cores. */
export const ToolConcurrency = Schema.Struct({
  search: withDefault(described(Slots, "search_files calls at once (each runs in a worker thread), and never more than the core count"), 4),
  process: withDefault(described(Slots, "execute_command and git_status calls at once"), 16),
  network: withDefault(described(Slots, "fetch_url, api_call and docker_ps calls at once"), 64),
  sql: withDefault(described(Slots, "sql_query calls at once"), 16),
  upstream: withDefault(described(Slots, "calls to upstream MCP servers at once"), 64)
})

export const ToolsConfig = Schema.Struct({
  enableReal: withDefault(
    described(Schema.Boolean, "Offer tools that write or run programs; false offers only read-only file tools"),
    true
  ),
  workingDir: withDefault(
    described(
      Name,
      "Every tool path is confined to this folder (created at start-up when missing); the router's own data, configuration, logs and install folder are refused inside it"
    ),
    "workspace"
  ),
  timeout: withDefault(described(Millis, "Longest time one tool call may run, in ms"), 30_000),
  allowedCommands: withDefault(
    described(Schema.Array(Name), "Programs execute_command may run, by exact name"),
    ["ls", "cat", "head", "tail", "grep", "find", "git", "docker"]
  ),
  maxOutputBytes: withDefault(described(Bytes, "Cap on a tool's output stream, in bytes"), 1024 * 1024),
  concurrency: withDefault(ToolConcurrency, {}),
  maxQueuedCalls: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100_000 })), "Calls of one tool family that may wait for a free slot; past it a call is refused as busy (-32053)"),
    100
  ),
  maxArgumentDepth: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1000 })), "Deepest nesting of a tool call's arguments; deeper ones are refused (-32602) before any tool runs"),
    64
  ),
  maxArgumentBytes: withDefault(
    described(Bytes, "Largest size of a tool call's arguments (as JSON text), in bytes; larger ones are refused (-32602) before any tool runs"),
    1024 * 1024
  ),
  maxReadBytes: withDefault(described(Bytes, "Largest file read_file returns, in bytes"), 5 * 1024 * 1024),
  maxListEntries: withDefault(described(Count, "Most entries list_directory returns"), 1000),
  maxSearchResults: withDefault(described(Count, "Most matches search_files returns"), 200),
  allowedDockerSubcommands: withDefault(
    described(Schema.Array(Name), "docker subcommands execute_command may run; add others (run, rm, ...) deliberately"),
    ["ps", "images", "inspect", "logs", "version", "info"]
  ),
  dockerSocket: withDefault(
    described(Name, "Docker Engine API socket for docker_ps (DOCKER_HOST=unix://... overrides it)"),
    "/var/run/docker.sock"
  ),
  network: withDefault(NetworkConfig, {}),
  apis: withDefault(
    described(Schema.Record(Schema.String, ApiConfig), "Named APIs for api_call; their auth headers never reach the model"),
    {}
  ),
  databases: withDefault(described(Schema.Array(DatabaseConfig), "Databases sql_query may use, by name"), [])
}).check(Schema.makeFilter((tools: { readonly databases: ReadonlyArray<{ readonly name: string }> }) => {
  const names = tools.databases.map((db) => db.name)
  const repeated = names.find((name, i) => names.indexOf(name) !== i)
  return repeated === undefined
    ? undefined
    : { path: ["databases"], issue: `Expected unique database names; "${repeated}" is used twice` }
}))

/** An http(s) URL: webhooks and collectors are reached over HTTP only. */
const HttpUrl = Name.check(
  Schema.makeFilter((text: string) =>
    URL.canParse(text) && ["http:", "https:"].includes(new URL(text).protocol) ? undefined : "Expected an http:// or https:// URL"
  )
)
const Percent = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 100 }))

export const AlertsConfig = Schema.Struct({
  memoryPercent: withDefault(described(Percent, "Resident memory over the container or system limit, in %"), 90),
  errorRatePercent: withDefault(described(Percent, "Failed tool calls among all calls of one sampling interval, in %"), 10),
  cpuPercent: withDefault(described(Percent, "Process CPU time over wall time across all cores, in %"), 80),
  p95Ms: withDefault(described(Millis, "95th percentile of tool-call duration in one sampling interval, in ms"), 5000),
  webhookUrl: Schema.optionalKey(described(HttpUrl, "Each alert that fires or resolves is POSTed here as JSON")),
  webhookTimeoutMs: withDefault(described(Millis, "Longest one webhook attempt may take, in ms"), 5000),
  webhookRetries: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10 })), "Retries of a failed webhook POST, with exponential backoff"),
    3
  )
})

export const MonitoringConfig = Schema.Struct({
  enabled: withDefault(Schema.Boolean, true),
  healthCheckInterval: withDefault(described(Millis, "Sampling interval of health and metrics, in ms"), 15_000),
  historyRetentionMinutes: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 1440 })), "How long every sample is kept for GET /metrics/history"),
    60
  ),
  aggregateRetentionHours: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 1, maximum: 720 })), "How long per-minute aggregates of the samples are kept"),
    24
  ),
  alerts: withDefault(AlertsConfig, {}),
  otlpEndpoint: Schema.optionalKey(
    described(HttpUrl, "OTLP/HTTP collector (e.g. http://localhost:4318): spans of HTTP requests and tool calls go to <endpoint>/v1/traces")
  )
})

export const WebSocketConfig = Schema.Struct({
  maxConnections: withDefault(described(Count, "Open connections at most; the next one is closed with 1013"), 200),
  maxMessageBytes: withDefault(described(Bytes, "Largest message a client may send; a larger one closes the socket (1009)"), 64 * 1024),
  authTimeout: withDefault(described(Millis, "How long a connection may stay unauthenticated when keys are required (closed with 4401)"), 10_000),
  heartbeatInterval: withDefault(described(Millis, "How often the server pings; a client that has not answered in two intervals is closed (4408)"), 30_000),
  queueSize: withDefault(described(Count, "Broadcasts queued per connection; beyond it, or past maxUnreadBytes, the oldest are dropped"), 256),
  slowClientTimeout: withDefault(described(Millis, "How long broadcasts may wait for a client that does not read before it is cut off (4503)"), 10_000),
  maxInvalidMessagesPerMinute: withDefault(described(Count, "Invalid messages a connection may send per minute before it is closed (4429)"), 30),
  maxUnreadBytes: withDefault(
    described(Bytes, "Bytes sent to an authenticated connection that its client has not read (replies, pongs, errors, broadcasts); with more unread, the next reply closes it (4503)"),
    1024 * 1024
  ),
  maxUnreadBytesUnauthenticated: withDefault(described(Bytes, "maxUnreadBytes of a connection that has not authenticated yet"), 64 * 1024),
  maxIdLength: withDefault(described(Count, "Longest request id (characters) a message may carry; a longer one is refused as invalid_message, not echoed"), 128),
  maxPendingRequests: withDefault(described(Count, "Tool calls one connection may have running at once; one more closes it (4429)"), 64)
})

export const McpConfig = Schema.Struct({
  maxSessions: withDefault(described(Count, "Open MCP sessions at /mcp at most, all keys together; an initialize past it gets 503"), 10_000),
  maxSessionsPerKey: withDefault(described(Count, "Open MCP sessions at most per key (per client address when anonymous); an initialize past it gets 429"), 100),
  sessionIdleTimeout: withDefault(
    described(Millis, "A session not used for this long, in ms, is ended; its next request gets 404 and the client starts a new one"),
    30 * 60_000
  ),
  replayEvents: withDefault(
    described(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 10_000 })), "Events each session keeps so a client that lost a stream resumes it with Last-Event-ID; 0 keeps none"),
    64
  ),
  replayBytes: withDefault(described(Bytes, "Bytes of kept events of all sessions together; the oldest go first"), 32 * 1024 * 1024)
})

const StdioTransport = Schema.Struct({
  type: Schema.Literal("stdio"),
  command: described(Name, "Program that serves MCP on stdin/stdout"),
  args: withDefault(Schema.Array(Schema.String), []),
  env: withDefault(described(Schema.Record(Schema.String, Schema.String), "Extra environment; ${VAR} takes the router's"), {}),
  cwd: Schema.optionalKey(Name)
})

const HttpTransport = Schema.Struct({
  type: Schema.Literal("http"),
  url: described(Name, "Streamable HTTP endpoint of the upstream"),
  headers: withDefault(described(Schema.Record(Schema.String, Schema.String), "Headers; ${VAR} takes the router's environment"), {})
})

const ToolGlobs = Schema.Array(Name)

export const UpstreamConfig = Schema.Struct({
  name: described(Name.check(Schema.isPattern(/^[A-Za-z0-9_-]{1,32}$/u)), "Unique name: letters, digits, _ and -, at most 32"),
  transport: Schema.Union([StdioTransport, HttpTransport]),
  enabled: withDefault(Schema.Boolean, true),
  prefix: Schema.optionalKey(described(
    Schema.String.check(Schema.isPattern(/^[A-Za-z0-9_-]{0,40}$/u)),
    "Prefix of the names of its tools and prompts (default: name); \"\" offers tools, prompts, resources and templates under their own names and URIs"
  )),
  include: Schema.optionalKey(described(ToolGlobs, "Only tools matching one of these globs")),
  exclude: withDefault(described(ToolGlobs, "Tools matching one of these globs are left out"), []),
  timeoutMs: withDefault(described(Millis, "Longest a call to this upstream may take"), 30_000),
  required: withDefault(described(Schema.Boolean, "The router is not ready while this upstream is down"), false),
  healthCheckMs: withDefault(described(Millis, "How often the upstream is asked for its tools (a health check that also finds changes)"), 15_000)
})
export type UpstreamConfig = typeof UpstreamConfig.Type

/** redis:// or rediss://, optionally with a user, password and database number. */
const isRedisUrl = Schema.makeFilter((url: string) =>
  /^rediss?:\/\//u.test(url) && URL.canParse(url) && /^\/?(\d{1,2})?$/u.test(new URL(url).pathname)
    ? undefined
    : "Expected a Redis URL such as redis://localhost:6379, redis://:password@host:6379/2 or rediss://host:6380"
)

export const RedisConfig = Schema.Struct({
  // described before the check, so that the JSON Schema shows the description
  url: Schema.optionalKey(described(
    Name,
    "Redis shared by several replicas: rate limits, events and key revocations go through it (the database number also names its pub/sub channels); unset keeps them in this process. Read at start"
  ).check(isRedisUrl))
})

export const RouterConfig = Schema.Struct({
  server: withDefault(ServerConfig, {}),
  security: withDefault(SecurityConfig, {}),
  logging: withDefault(LoggingConfig, {}),
  tools: withDefault(ToolsConfig, {}),
  monitoring: withDefault(MonitoringConfig, {}),
  websocket: withDefault(WebSocketConfig, {}),
  mcp: withDefault(McpConfig, {}),
  storage: withDefault(StorageConfig, {}),
  redis: withDefault(RedisConfig, {}),
  upstreams: withDefault(described(Schema.Array(UpstreamConfig), "MCP servers whose tools the router offers under <prefix>__<tool>"), [])
}).check(Schema.makeFilter((config: { readonly upstreams: ReadonlyArray<{ readonly name: string }> }) => {
  const names = config.upstreams.map((u) => u.name)
  const repeated = names.find((name, i) => names.indexOf(name) !== i)
  return repeated === undefined ? undefined : { path: ["upstreams"], issue: `Expected unique upstream names; "${repeated}" is used twice` }
})).annotate({
  title: "MCP Router Pro configuration",
  description: "config/mcp-router.json: every key is optional; environment variables MCP_* override it."
})

export type RouterConfig = typeof RouterConfig.Type
/** The file form: what a config file or a runtime update may contain. */
export type RouterConfigInput = typeof RouterConfig.Encoded

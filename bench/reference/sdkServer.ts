/**
 * The reference of the /mcp scenarios: the official TypeScript SDK's stateful Streamable HTTP server
 * (`McpServer` + `StreamableHTTPServerTransport`, one server and transport per session, as in the SDK's
 * documented stateful example) with a `read_file` tool, on plain `node:http` (no Express: the body is
 * read and parsed here, as express.json() would). JSON responses (`enableJsonResponse`), like the
 * router's, rather than one-event SSE streams. No keys, no rate limits, no audit.
 *
 *   BENCH_PORT=4001 BENCH_WORKING_DIR=/tmp/work node bench/reference/sdkServer.ts
 */
import { randomUUID } from "node:crypto"
import * as http from "node:http"
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js"
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js"
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js"
import { z } from "zod"
import { exitWithParent, portFromEnv, readConfined, workingDir } from "./readFile.ts"

const root = workingDir()
const maxBody = 1024 * 1024
const transports = new Map<string, StreamableHTTPServerTransport>()

const newServer = () => {
  const server = new McpServer({ name: "sdk-reference", version: "1.0.0" })
  server.registerTool(
    "read_file",
    {
      title: "Read file",
      description: "Read a file inside the working directory as UTF-8 text.",
      inputSchema: {
        path: z.string().describe("File path, relative to the working directory"),
        encoding: z.enum(["utf8", "base64"]).optional(),
        offset: z.number().int().min(0).optional(),
        length: z.number().int().min(1).optional()
      },
      annotations: { readOnlyHint: true, openWorldHint: false, destructiveHint: false, idempotentHint: true }
    },
    ({ path }) => readConfined(root, path)
  )
  return server
}

const sendJson = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const readJson = async (req: http.IncomingMessage): Promise<unknown> => {
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBody) throw new Error("Payload too large")
    chunks.push(chunk)
  }
  return JSON.parse(Buffer.concat(chunks).toString("utf8"))
}

const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.method === "GET" && req.url === "/health/live") return sendJson(res, 200, { status: "ok" })
  if (req.url !== "/mcp") return sendJson(res, 404, { error: "not found" })
  const header = req.headers["mcp-session-id"]
  const sessionId = typeof header === "string" ? header : undefined
  const existing = sessionId === undefined ? undefined : transports.get(sessionId)
  if (sessionId !== undefined && existing === undefined) {
    return sendJson(res, 404, { jsonrpc: "2.0", id: null, error: { code: -32001, message: "Session not found" } })
  }
  if (req.method !== "POST") {
    if (existing === undefined) return sendJson(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32000, message: "No session" } })
    return existing.handleRequest(req, res)
  }
  let body: unknown
  try {
    body = await readJson(req)
  } catch {
    return sendJson(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32700, message: "Parse error" } })
  }
  if (existing !== undefined) return existing.handleRequest(req, res, body)
  if (!isInitializeRequest(body)) {
    return sendJson(res, 400, { jsonrpc: "2.0", id: null, error: { code: -32000, message: "Bad Request: No valid session ID provided" } })
  }
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    enableJsonResponse: true,
    onsessioninitialized: (id) => {
      transports.set(id, transport)
    }
  })
  transport.onclose = () => {
    if (transport.sessionId !== undefined) transports.delete(transport.sessionId)
  }
  await newServer().connect(transport)
  return transport.handleRequest(req, res, body)
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) sendJson(res, 500, { jsonrpc: "2.0", id: null, error: { code: -32603, message: String(error) } })
    else res.destroy()
  })
})
server.keepAliveTimeout = 5_000
server.listen(portFromEnv(), "127.0.0.1")
exitWithParent()

/**
 * The floor of the JSON-RPC scenarios: a bare `node:http` server answering `ping` and `tools/call`
 * `read_file` at POST /api/mcp/jsonrpc (single requests), and GET /health/live. No keys, no rate limits,
 * no audit, no schemas: what a JSON-RPC call costs in Node itself.
 *
 *   BENCH_PORT=4000 BENCH_WORKING_DIR=/tmp/work node bench/reference/bareServer.ts
 */
import * as http from "node:http"
import { exitWithParent, portFromEnv, readConfined, workingDir } from "./readFile.ts"

const root = workingDir()
const maxBody = 1024 * 1024

const send = (res: http.ServerResponse, status: number, body: unknown) => {
  const text = JSON.stringify(body)
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
  res.end(text)
}

const rpcError = (id: unknown, code: number, message: string) => ({ jsonrpc: "2.0", id: id ?? null, error: { code, message } })

const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
  if (req.method === "GET" && req.url === "/health/live") return send(res, 200, { status: "ok" })
  if (req.method !== "POST" || req.url !== "/api/mcp/jsonrpc") return send(res, 404, { error: { code: "not_found", message: "Not found" } })
  const chunks: Array<Buffer> = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > maxBody) return send(res, 413, rpcError(null, -32600, "Payload too large"))
    chunks.push(chunk)
  }
  let message: { jsonrpc?: unknown; id?: unknown; method?: unknown; params?: { name?: unknown; arguments?: { path?: unknown } } }
  try {
    message = JSON.parse(Buffer.concat(chunks).toString("utf8"))
  } catch {
    return send(res, 400, rpcError(null, -32700, "Parse error"))
  }
  if (message === null || typeof message !== "object" || message.jsonrpc !== "2.0" || typeof message.method !== "string") {
    return send(res, 400, rpcError(null, -32600, "Invalid request"))
  }
  switch (message.method) {
    case "ping":
      return send(res, 200, { jsonrpc: "2.0", id: message.id, result: {} })
    case "tools/call":
      if (message.params?.name !== "read_file") return send(res, 400, rpcError(message.id, -32602, "Unknown tool"))
      return send(res, 200, { jsonrpc: "2.0", id: message.id, result: await readConfined(root, message.params.arguments?.path) })
    default:
      return send(res, 404, rpcError(message.id, -32601, "Method not found"))
  }
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (!res.headersSent) send(res, 500, rpcError(null, -32603, String(error)))
    else res.destroy()
  })
})
server.keepAliveTimeout = 5_000
server.listen(portFromEnv(), "127.0.0.1")
exitWithParent()

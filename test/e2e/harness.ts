/** HTTP helpers for the end-to-end tests; the server itself comes from test/support/server.ts. */
export { makeTempDir, type RunningServer, startServer } from "../support/server.ts"

/** Every HTTP call in these tests gives up after this long, so a hang fails the test instead of stalling it. */
export const requestTimeoutMs = 10_000

export interface HttpReply {
  readonly status: number
  readonly contentType: string | null
  readonly text: string
  /** The parsed body; undefined when it is empty or not JSON. */
  readonly json: any
}

const parseOrUndefined = (text: string): unknown => {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

/** A request as curl would send it: the body is sent as given (a string), or JSON-encoded. */
export const http = async (
  url: string,
  init: { readonly method?: string; readonly body?: unknown; readonly headers?: Record<string, string> } = {}
): Promise<HttpReply> => {
  const body = init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body)
  const response = await fetch(url, {
    method: init.method ?? (body === undefined ? "GET" : "POST"),
    headers: body === undefined ? { ...init.headers } : { "content-type": "application/json", ...init.headers },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(requestTimeoutMs)
  })
  const text = await response.text()
  return { status: response.status, contentType: response.headers.get("content-type"), text, json: parseOrUndefined(text) }
}

/**
 * The JSON-RPC messages of a Streamable HTTP reply, whether it came as application/json or as
 * text/event-stream (each `data:` line of an SSE event holds one message).
 */
export const mcpMessages = (reply: HttpReply): Array<any> => {
  if (reply.contentType?.startsWith("text/event-stream")) {
    return reply.text.split("\n").filter((line) => line.startsWith("data:")).map((line) => JSON.parse(line.slice(5)))
  }
  return reply.text.trim() === "" ? [] : [JSON.parse(reply.text)].flat()
}

/** Polls `check` every 50 ms until it holds or `timeoutMs` passes; returns whether it held. */
export const waitFor = async (check: () => boolean, timeoutMs = 5_000): Promise<boolean> => {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  return true
}

/**
 * The built-in file tools. Tests check these are offered rather than pinning the exact list, so a new
 * built-in tool family does not break every end-to-end test; the counts are checked for consistency.
 */
export const fileTools = ["list_directory", "read_file", "search_files", "write_file"]
export const readOnlyFileTools = ["list_directory", "read_file", "search_files"]

/** One HTTP request as the tests make them: JSON in and out, a key as a Bearer token, always bounded. */
export interface Reply {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  readonly json: any
}

export const call = async (
  url: string,
  init: {
    readonly method?: string
    readonly key?: string | undefined
    readonly body?: unknown
    readonly headers?: Record<string, string>
    readonly timeoutMs?: number
  } = {}
): Promise<Reply> => {
  // a string body is sent as it is, anything else as JSON
  const body = init.body === undefined ? undefined : typeof init.body === "string" ? init.body : JSON.stringify(init.body)
  const response = await fetch(url, {
    method: init.method ?? (body === undefined ? "GET" : "POST"),
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(init.key === undefined ? {} : { authorization: `Bearer ${init.key}` }),
      ...init.headers
    },
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(init.timeoutMs ?? 10_000)
  })
  const text = await response.text()
  let json: any
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, headers: response.headers, text, json }
}

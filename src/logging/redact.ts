/** Secrets never reach a log line: API keys, bearer tokens, api_key query parameters, secret-named fields. */

const secretValuePatterns: ReadonlyArray<[RegExp, string]> = [
  [/\bmcp_[A-Za-z0-9_-]{8,}/g, "mcp_[REDACTED]"],
  [/\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+/gi, "$1 [REDACTED]"],
  [/([?&](?:api_key|apikey|access_token|token|key)=)[^&\s"']+/gi, "$1[REDACTED]"]
]

const secretKeyPattern = /authorization|api[-_]?key|password|passwd|secret|token|cookie|credential/i

export const redactText = (text: string): string =>
  secretValuePatterns.reduce((acc, [pattern, replacement]) => acc.replace(pattern, replacement), text)

/** Redacts strings anywhere in a JSON-like value, and whole values under secret-looking keys. */
export const redactValue = (value: unknown, depth = 0): unknown => {
  if (typeof value === "string") return redactText(value)
  if (value === null || typeof value !== "object" || depth > 8) return value
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [key, item] of Object.entries(value)) {
    out[key] = secretKeyPattern.test(key) ? "[REDACTED]" : redactValue(item, depth + 1)
  }
  return out
}

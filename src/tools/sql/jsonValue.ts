/**
 * Turns a value a database driver returned into one JSON can carry without loss or surprise.
 * Imported by the SQLite worker process too, so it imports nothing.
 */
export const toJsonValue = (value: unknown): unknown => {
  if (value === null || value === undefined) return null
  switch (typeof value) {
    case "bigint":
      // 64-bit integers beyond 2^53 would silently lose digits as numbers
      return Number.isSafeInteger(Number(value)) ? Number(value) : value.toString()
    case "number":
      // NaN and ±Infinity have no JSON spelling (JSON.stringify would write null)
      return Number.isFinite(value) ? value : String(value)
    case "object":
      if (value instanceof Uint8Array) return Buffer.from(value).toString("base64")
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString()
      if (Array.isArray(value)) return value.map(toJsonValue)
      return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, toJsonValue(inner)]))
    default:
      return value
  }
}

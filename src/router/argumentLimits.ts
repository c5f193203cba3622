/**
 * Bounds on a tool call's arguments, checked before any tool or audit code sees them: nesting depth and
 * an approximate size (the length of their JSON text). Iterative, so no input can overflow the stack,
 * and it stops at the first bound passed.
 */

export interface ArgumentBounds {
  readonly maxDepth: number
  readonly maxBytes: number
}

/** What is wrong with the arguments, naming the setting, or undefined when they are within bounds. */
export const argumentProblem = (args: unknown, bounds: ArgumentBounds): string | undefined => {
  const stack: Array<{ readonly value: unknown; readonly depth: number }> = [{ value: args, depth: 0 }]
  let bytes = 0
  while (stack.length > 0) {
    const { value, depth } = stack.pop()!
    if (typeof value === "string") bytes += value.length + 2
    else if (value === null || typeof value !== "object") bytes += 8
    else {
      if (depth >= bounds.maxDepth) return `arguments are nested deeper than ${bounds.maxDepth} levels (tools.maxArgumentDepth)`
      if (Array.isArray(value)) {
        bytes += 2 + value.length
        for (const item of value) stack.push({ value: item, depth: depth + 1 })
      } else {
        bytes += 2
        for (const key in value) {
          bytes += key.length + 4
          stack.push({ value: (value as Record<string, unknown>)[key], depth: depth + 1 })
        }
      }
    }
    if (bytes > bounds.maxBytes) return `arguments are larger than ${bounds.maxBytes} bytes (tools.maxArgumentBytes)`
  }
  return undefined
}

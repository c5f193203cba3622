/** Who is calling, as the edge established it; every call on every transport carries one. */
export type Transport = "mcp" | "jsonrpc" | "stdio" | "websocket" | "http"

export interface Caller {
  readonly transport: Transport
  /** Id and name of the API key used, when there was one. */
  readonly keyId?: string
  readonly keyName?: string
  readonly permissions: ReadonlyArray<string>
  readonly ip?: string
  /** The key's own limits of tool calls, when it has them (else security.max*, or security.admin* for admin keys). */
  readonly ratePerMinute?: number | undefined
  readonly ratePerHour?: number | undefined
}

/** A local caller with every permission: stdio is launched by the user on their own machine. */
export const localCaller = (transport: Transport): Caller => ({ transport, permissions: ["*"] })

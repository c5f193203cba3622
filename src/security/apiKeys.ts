/** API key format and hashing: `mcp_` + 32 random bytes (base64url); only a SHA-256 hash is kept. */
import { hash, randomBytes, randomUUID } from "node:crypto"

export const keyPattern = /^mcp_[A-Za-z0-9_-]{43}$/

export const generateKey = () => `mcp_${randomBytes(32).toString("base64url")}`

export const hashKey = (key: string) => hash("sha256", key)

/** What may be shown of a key: enough to recognise it, far too little to use it. */
export const displayPrefix = (key: string) => key.slice(0, 10)

export const newKeyId = () => `key_${randomUUID().replaceAll("-", "").slice(0, 16)}`

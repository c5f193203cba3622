import { describe, expect, it } from "vitest"
import { redactText, redactValue } from "../../src/logging/redact.ts"

describe("redaction", () => {
  it("hides API keys, bearer tokens and api_key query parameters in text", () => {
    const key = "mcp_Q2hhbmdlLW1lLXBsZWFzZS10aGlzLWlzLWEta2V5"
    const text = redactText(`key ${key} header Bearer abc.def-ghi url /mcp?api_key=${key}&x=1`)
    expect(text).not.toContain(key)
    expect(text).not.toContain("abc.def-ghi")
    expect(text).toContain("mcp_[REDACTED]")
    expect(text).toContain("Bearer [REDACTED]")
    expect(text).toContain("api_key=[REDACTED]&x=1")
  })

  it("hides whole values under secret-looking keys, at any depth", () => {
    const value = redactValue({ user: "ann", headers: { Authorization: "Basic dXNlcjpwYXNz", "x-api-key": "k" }, list: [{ password: "p" }] })
    expect(value).toEqual({ user: "ann", headers: { Authorization: "[REDACTED]", "x-api-key": "[REDACTED]" }, list: [{ password: "[REDACTED]" }] })
  })

  it("leaves ordinary text alone", () => {
    expect(redactText("listing mcp_ folder at /tmp")).toBe("listing mcp_ folder at /tmp")
  })
})

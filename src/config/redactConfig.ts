/** The configuration as it may be shown or stored: no admin key, no API header values, no database passwords. */
import type { RouterConfigInput } from "./schema.ts"

const redactUrlPassword = (url: string) =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, "$1:[REDACTED]@").replace(/([?&]password=)[^&]*/i, "$1[REDACTED]")

export const redactConfig = (config: RouterConfigInput): RouterConfigInput => {
  const { adminKey, ...security } = config.security ?? {}
  return {
    ...config,
    security: adminKey === undefined ? security : { ...security, adminKey: "[REDACTED]" },
    tools: {
      ...config.tools,
      apis: Object.fromEntries(Object.entries(config.tools?.apis ?? {}).map(([name, api]) => [
        name,
        { ...api, headers: Object.fromEntries(Object.keys(api.headers ?? {}).map((header) => [header, "[REDACTED]"])) }
      ])),
      databases: (config.tools?.databases ?? []).map((db) => ({ ...db, url: redactUrlPassword(db.url) }))
    }
  }
}

/** What is kept in the configuration history: without the admin key, which only the environment sets. */
export const storableConfig = (config: RouterConfigInput): RouterConfigInput => {
  const { adminKey: _adminKey, ...security } = config.security ?? {}
  return { ...config, security }
}

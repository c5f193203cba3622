/** The configuration as it may be shown or stored: no admin key, no API header values, no database passwords. */
import type { RouterConfigInput } from "./schema.ts"

const redactUrlPassword = (url: string) =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, "$1:[REDACTED]@").replace(/([?&]password=)[^&]*/i, "$1[REDACTED]")

// webhook URLs often carry their secret in the path (Slack, Teams): only the origin is shown
const redactWebhookUrl = (url: string) => (URL.canParse(url) ? `${new URL(url).origin}/[REDACTED]` : "[REDACTED]")

export const redactConfig = (config: RouterConfigInput): RouterConfigInput => {
  const { adminKey, ...security } = config.security ?? {}
  const webhookUrl = config.monitoring?.alerts?.webhookUrl
  return {
    ...config,
    ...(webhookUrl === undefined ? {} : { monitoring: { ...config.monitoring, alerts: { ...config.monitoring?.alerts, webhookUrl: redactWebhookUrl(webhookUrl) } } }),
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

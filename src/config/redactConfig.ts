/** The configuration as it may be shown or stored: no admin key, no API header values, no database or Redis passwords. */
import type { RouterConfigInput } from "./schema.ts"

const redactUrlPassword = (url: string) =>
  url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@]*@/i, "$1:[REDACTED]@").replace(/([?&]password=)[^&]*/i, "$1[REDACTED]")

// webhook URLs often carry their secret in the path (Slack, Teams): only the origin is shown
const redactWebhookUrl = (url: string) => (URL.canParse(url) ? `${new URL(url).origin}/[REDACTED]` : "[REDACTED]")

export const redactConfig = (config: RouterConfigInput): RouterConfigInput => {
  const { adminKey, ...security } = config.security ?? {}
  const webhookUrl = config.monitoring?.alerts?.webhookUrl
  const redisUrl = config.redis?.url
  return {
    ...config,
    ...(redisUrl === undefined ? {} : { redis: { ...config.redis, url: redactUrlPassword(redisUrl) } }),
    ...(webhookUrl === undefined ? {} : { monitoring: { ...config.monitoring, alerts: { ...config.monitoring?.alerts, webhookUrl: redactWebhookUrl(webhookUrl) } } }),
    security: adminKey === undefined ? security : { ...security, adminKey: "[REDACTED]" },
    ...(config.storage?.url === undefined ? {} : { storage: { ...config.storage, url: redactUrlPassword(config.storage.url) } }),
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

/**
 * What is kept in the configuration history: without the admin key, which only the environment sets,
 * and without storage.url (it holds the database password, and each router has its own).
 */
export const storableConfig = (config: RouterConfigInput): RouterConfigInput => {
  const { adminKey: _adminKey, ...security } = config.security ?? {}
  const { url: _url, ...storage } = config.storage ?? {}
  return { ...config, security, storage }
}

/**
 * A stored version as this router applies it (a rollback, or a change made on another replica): its
 * own address (server.host, server.port), storage settings and admin key stay; the rest is the
 * version's.
 */
export const withLocalSettings = (stored: RouterConfigInput, local: RouterConfigInput): RouterConfigInput => {
  const { adminKey: _stored, ...security } = stored.security ?? {}
  const adminKey = local.security?.adminKey
  return {
    ...stored,
    server: {
      ...stored.server,
      ...(local.server?.host === undefined ? {} : { host: local.server.host }),
      ...(local.server?.port === undefined ? {} : { port: local.server.port })
    },
    storage: local.storage ?? {},
    security: adminKey === undefined ? security : { ...security, adminKey }
  }
}

/** The part of a configuration that replicas share: without what `withLocalSettings` keeps per router. */
export const sharedSettings = (config: RouterConfigInput): RouterConfigInput => {
  const { host: _host, port: _port, ...server } = config.server ?? {}
  const { adminKey: _adminKey, ...security } = config.security ?? {}
  return { ...config, server, security, storage: {} }
}

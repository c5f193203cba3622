/**
 * Alerts on a running router: GET /api/alerts shows active and recent alerts, and a webhook that never
 * answers holds up neither the requests nor the sampler.
 */
import type * as http from "node:http"
import { describe, expect, it } from "vitest"
import { startLocalServer } from "../tools/web/support.ts"
import { ADMIN, call, cleanupAfterEach, eventually, jsonRpc, start, stop } from "../security/support.ts"

cleanupAfterEach()

describe("GET /api/alerts", () => {
  it("shows active and recent alerts, while a hanging webhook holds up nothing", async () => {
    const held: Array<http.ServerResponse> = []
    const webhook = await startLocalServer((_, response) => void held.push(response)) // never answers
    try {
      // every sample is over a 0 % memory threshold: the alert fires on the first one
      const server = await start({
        monitoring: { healthCheckInterval: 100, alerts: { memoryPercent: 0, webhookUrl: `${webhook.origin}/hooks/secret-token`, webhookTimeoutMs: 600_000 } }
      })
      expect(await eventually(async () => webhook.requests.length === 1), "the firing alert reaches the webhook").toBe(true)
      expect(JSON.parse(webhook.requests[0]!.body)).toMatchObject({ event: "alert.firing", alert: { rule: "memory", state: "firing", threshold: 0 } })

      // the webhook still holds that request open, and requests go on being answered
      const samplesBefore = (await call(`${server.url}/metrics/history?window=1m`, { key: ADMIN })).json.count
      for (let id = 0; id < 5; id++) {
        const reply = await jsonRpc(server, ADMIN, "tools/call", { name: "list_directory", arguments: {} })
        expect(reply.status).toBe(200)
      }
      const alerts = await call(`${server.url}/api/alerts`, { key: ADMIN })
      expect(alerts.status).toBe(200)
      expect(alerts.json.active.map((a: any) => [a.rule, a.state])).toEqual([["memory", "firing"]])
      expect(alerts.json.recent.map((a: any) => a.id)).toEqual([alerts.json.active[0].id])
      // and the sampler goes on sampling
      expect(await eventually(async () => (await call(`${server.url}/metrics/history?window=1m`, { key: ADMIN })).json.count > samplesBefore)).toBe(true)
      expect(held.length === 1 && !held[0]!.writableEnded, "the webhook has not answered").toBe(true)

      // a runtime change of the threshold resolves the alert at the next sample
      expect((await call(`${server.url}/config`, { key: ADMIN, body: { "monitoring.alerts.memoryPercent": 100 } })).status).toBe(200)
      expect(await eventually(async () => (await call(`${server.url}/api/alerts`, { key: ADMIN })).json.active.length === 0)).toBe(true)
      const after = (await call(`${server.url}/api/alerts`, { key: ADMIN })).json
      expect(after.recent.map((a: any) => [a.rule, a.state])).toEqual([["memory", "resolved"]])
      expect((await call(`${server.url}/api/alerts`)).status, "alerts need the read permission").toBe(401)
      // a webhook URL often holds its secret in the path: GET /config shows only the origin
      const shown = (await call(`${server.url}/config`, { key: ADMIN })).json.config.monitoring.alerts.webhookUrl
      expect(shown).toBe(`${webhook.origin}/[REDACTED]`)
      await stop(server)
    } finally {
      await webhook.close()
    }
  })
})

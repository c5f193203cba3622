/**
 * Optional tracing. With monitoring.otlpEndpoint (MCP_OTLP_ENDPOINT) set, spans of HTTP requests (made by
 * effect's HTTP server once a tracer is present) and of tool calls (Router.call) go to that OTLP/HTTP
 * collector through effect's own OTLP exporter, in batches. Unset, span creation is switched off, so
 * tracing costs nothing. Read at start.
 */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as References from "effect/References"
import * as FetchHttpClient from "effect/http/FetchHttpClient"
import * as UrlParams from "effect/http/UrlParams"
import * as OtlpSerialization from "effect/observability/OtlpSerialization"
import * as OtlpTracer from "effect/observability/OtlpTracer"
import { AppConfig } from "../config/AppConfig.ts"
import { serverName, version } from "../version.ts"

/** The collector's traces URL: the endpoint is a base URL, as OTEL_EXPORTER_OTLP_ENDPOINT is. */
export const tracesUrl = (endpoint: string) => (endpoint.endsWith("/v1/traces") ? endpoint : `${endpoint.replace(/\/+$/, "")}/v1/traces`)

export const TracingLayer = Layer.unwrap(
  AppConfig.use((config) =>
    Effect.sync(() => {
      const endpoint = config.current().monitoring.otlpEndpoint
      if (endpoint === undefined) return Layer.succeed(References.TracerEnabled, false)
      return OtlpTracer.layer({
        url: tracesUrl(endpoint),
        resource: { serviceName: serverName, serviceVersion: version },
        exportInterval: "1 second"
      }).pipe(
        Layer.provide(OtlpSerialization.layerJson),
        Layer.provide(FetchHttpClient.layer),
        // request URLs are span attributes: an ?api_key= must not reach the collector
        Layer.merge(Layer.succeed(UrlParams.CurrentRedactedNames, [...UrlParams.CurrentRedactedNames.defaultValue(), "api_key"]))
      )
    })
  )
)

/** GET /health, GET /api/tools and GET /logs. */
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import { LogLevelName } from "../config/schema.ts"
import { LogBuffer } from "../logging/Logging.ts"
import { ToolStats } from "../observability/ToolStats.ts"
import { localCaller } from "../router/Caller.ts"
import { CurrentCaller } from "../router/CurrentCaller.ts"
import { Router } from "../router/Router.ts"
import { allows, needRead } from "../security/permissions.ts"
import { toToolListing } from "../router/wire.ts"
import { serverName, version } from "../version.ts"
import { errorResponse, jsonResponse } from "./jsonResponse.ts"
import { AccessGuard } from "./AccessGuard.ts"
import { publicAccess, readAccess } from "./access.ts"

const LogsQuery = Schema.Struct({
  level: Schema.optionalKey(LogLevelName),
  limit: Schema.optionalKey(Schema.NumberFromString.check(Schema.isInt(), Schema.isBetween({ minimum: 1, maximum: 10_000 })))
})

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10

const processHealth = () => {
  const memory = process.memoryUsage()
  const cpu = process.cpuUsage()
  return {
    memory: { rssMiB: mib(memory.rss), heapUsedMiB: mib(memory.heapUsed), heapTotalMiB: mib(memory.heapTotal) },
    cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) }
  }
}

export const SystemRoutes = Layer.mergeAll(
  HttpRouter.use((router) =>
    Effect.gen(function*() {
    const guard = yield* AccessGuard
      const routerService = yield* Router
      const stats = yield* ToolStats
      const logs = yield* LogBuffer
      // the tool catalogue as a whole: what this router offers, whoever may call each tool
      const caller = localCaller("http")
      yield* router.addAll([guard.route("GET", "/health", publicAccess, Effect.gen(function*() {
        // anonymous callers learn only that the router is up; the numbers need the read permission
        const current = yield* Effect.serviceOption(CurrentCaller)
        if (Option.isSome(current) && !allows(current.value.permissions, needRead)) return jsonResponse({ status: "ok" })
        const snapshot = yield* stats.snapshot
        return jsonResponse({
          status: "ok",
          name: serverName,
          version,
          startedAt: snapshot.startedAt,
          uptimeSeconds: snapshot.uptimeSeconds,
          ...processHealth(),
          tools: { count: routerService.list(caller).length, calls: snapshot.totals.calls, errors: snapshot.totals.errors }
        })
      }))])
      yield* router.addAll([guard.route("GET", "/api/tools", readAccess, Effect.sync(() => {
        const tools = routerService.list(caller).map(toToolListing)
        return jsonResponse({ tools, count: tools.length })
      }))])
      yield* router.addAll([guard.route("GET", "/logs", readAccess, HttpServerRequest.schemaSearchParams(LogsQuery).pipe(
        Effect.map((query) => {
          const entries = logs.recent({ ...query })
          return jsonResponse({ entries, count: entries.length })
        }),
        Effect.catchTag("SchemaError", (error) =>
          Effect.succeed(errorResponse(400, "invalid_query", `Invalid query: ${error.message.replaceAll("\n", " ")}`))
        )
      ))])
    })
  )
)

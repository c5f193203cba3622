/**
 * Applies to every route: a request that takes longer than `server.timeout` gets 503, and a request
 * whose handler fails unexpectedly gets a JSON 500 while the cause goes to the log, never to the client.
 */
import { Cause, Effect, Layer } from "effect"
import { HttpRouter } from "effect/http"
import { AppConfig } from "../config/AppConfig.ts"
import { errorResponse } from "./jsonResponse.ts"

export const RequestLimits = Layer.unwrap(
  AppConfig.use((config) =>
    Effect.succeed(
      HttpRouter.middleware((handle) =>
        Effect.suspend(() => {
          const timeout = config.current().server.timeout
          return handle.pipe(
            Effect.timeoutOrElse({
              duration: timeout,
              orElse: () => Effect.succeed(errorResponse(503, "request_timeout", `The request took longer than ${timeout} ms (server.timeout)`))
            }),
            Effect.catchCause((cause) =>
              Cause.hasInterruptsOnly(cause)
                ? Effect.failCause(cause)
                : Effect.logError("request failed", cause).pipe(
                  Effect.as(errorResponse(500, "internal_error", "The router failed to handle this request; its log has the details"))
                )
            )
          )
        }), { global: true })
    )
  )
)

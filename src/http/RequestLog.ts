import { HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import { InternalError, ServiceUnavailable } from "../domain/Http.ts"
import { httpRequestDuration, httpRequests } from "../observability/Metrics.ts"
import { RequestGate, shuttingDownError } from "./RequestGate.ts"

// The bodies this middleware writes itself are the contract's error classes encoded, `_tag`
// included, so that the derived client decodes them like any other error.

/** Whatever escapes the API's own error handling still answers with the contract's error body. */
const internalError = HttpServerResponse.unsafeJson(
  Schema.encodeSync(InternalError)(new InternalError({ message: "An unexpected error occurred; it has been logged" })),
  { status: 500 }
)

/** Seconds a client should wait before retrying a 503 (overloaded, unavailable, shutting down). */
const retryAfterSeconds = "1"

const shuttingDown = HttpServerResponse.unsafeJson(
  Schema.encodeSync(ServiceUnavailable)(shuttingDownError),
  // Written by this middleware itself, so it does not pass the pre-response handler below.
  { status: 503, headers: { connection: "close", "retry-after": retryAfterSeconds } }
)

/**
 * The liveness probe passes the gate: while the service drains it is still alive (the readiness
 * probe says it is going away), and an orchestrator should not kill it before it has finished.
 */
const livenessPath = "/api/health/live"

/**
 * The outermost middleware: admits the request through the gate, writes one log line per
 * request with method, path, status and duration, and counts it in the metrics. Query strings
 * and bodies are not logged.
 */
export const requestLog = (app: HttpApp.Default): HttpApp.Default<never, RequestGate> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const path = new URL(request.url, "http://localhost").pathname
    const gate = yield* RequestGate
    const startedMs = yield* Clock.currentTimeMillis
    // The response is written before this middleware sees it, so the header goes in a handler
    // that runs just before it is sent. Every 503 is temporary by definition: say when to retry.
    yield* HttpApp.appendPreResponseHandler((_, response) =>
      Effect.succeed(response.status === 503 ? HttpServerResponse.setHeader(response, "retry-after", retryAfterSeconds) : response)
    )
    const handled = app.pipe(
      Effect.catchAllCause((cause) => Effect.logError("Unhandled failure", cause).pipe(Effect.as(internalError)))
    )
    const exit = yield* (path.replace(/\/$/, "") === livenessPath ? handled : gate.admit(handled, Effect.succeed(shuttingDown))).pipe(
      Effect.exit
    )
    const durationMs = (yield* Clock.currentTimeMillis) - startedMs
    // No response means the client went away and the request was interrupted.
    const status = Exit.isSuccess(exit) ? exit.value.status : 499
    yield* Effect.logInfo("request").pipe(
      Effect.annotateLogs({
        method: request.method,
        path,
        status,
        durationMs
      })
    )
    yield* Metric.increment(Metric.tagged(Metric.tagged(httpRequests, "method", request.method), "status", String(status)))
    yield* Metric.update(httpRequestDuration, durationMs / 1000)
    return yield* exit
  })

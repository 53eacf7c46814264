import { HttpApp, HttpServerError, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as HashSet from "effect/HashSet"
import * as Metric from "effect/Metric"
import * as Schema from "effect/Schema"
import { InternalError, ServiceUnavailable } from "../domain/Http.ts"
import { httpRequestDuration, httpRequestsOf } from "../observability/Metrics.ts"
import { RequestGate, shuttingDownError } from "./RequestGate.ts"
import { currentRequestId, requestIdFrom, requestIdHeader, withRequestId } from "./RequestId.ts"

// The bodies this middleware writes itself are the contract's error classes encoded, `_tag`
// included, so that the derived client decodes them like any other error.

/** Whatever escapes the API's own error handling still answers with the contract's error body. */
const internalError = HttpServerResponse.unsafeJson(
  Schema.encodeSync(InternalError)(new InternalError({ message: "An unexpected error occurred; it has been logged" })),
  { status: 500 }
)

/**
 * The client closed its connection before the answer (it timed out and will retry, or went
 * away): the platform interrupts the request with this fiber id. Not a failure of ours.
 */
const isClientAbort = (cause: Cause.Cause<unknown>) =>
  HashSet.has(Cause.interruptors(cause), HttpServerError.clientAbortFiberId)

/**
 * A request interrupted by the service, not by its client: an interruption, or the platform's
 * own empty 503 for a handler its server interrupted (a request still running when the server
 * closes, past the shutdown's drains), which reaches here as a failure or a defect.
 */
const isServerInterruption = (cause: Cause.Cause<unknown>) =>
  Cause.isInterruptedOnly(cause) ||
  Chunk.some(
    Chunk.appendAll(Cause.failures<unknown>(cause), Cause.defects(cause)),
    (error) => HttpServerResponse.isServerResponse(error) && error.status === 503
  )

/** Seconds a client should wait before retrying a 503 (overloaded, unavailable, shutting down). */
const retryAfterSeconds = "1"

/**
 * A request interrupted by the service itself (a read queued when its batcher stopped at
 * shutdown, a write whose batch was cut short), not by its client: nothing says it did not
 * apply, but a retry with the same key is safe, so it is a 503 like any other outage.
 */
const interrupted = HttpServerResponse.unsafeJson(
  Schema.encodeSync(ServiceUnavailable)(
    new ServiceUnavailable({ status: "unavailable", message: "The request was interrupted before its answer; retry later" })
  ),
  { status: 503 }
)

const shuttingDown = HttpServerResponse.unsafeJson(
  Schema.encodeSync(ServiceUnavailable)(shuttingDownError),
  // Written by this middleware itself, so it does not pass the pre-response handler below:
  // `finish` is applied where it is returned.
  { status: 503, headers: { connection: "close" } }
)

/**
 * The liveness probe passes the gate: while the service drains it is still alive (the readiness
 * probe says it is going away), and an orchestrator should not kill it before it has finished.
 */
const livenessPath = "/api/health/live"

/**
 * What every response gets on its way out: its request id (header, and error body), and on a
 * 503, which is temporary by definition, when to retry.
 */
const finish = (response: HttpServerResponse.HttpServerResponse, requestId: string) => {
  const withId = withRequestId(response, requestId)
  return response.status === 503 ? HttpServerResponse.setHeader(withId, "retry-after", retryAfterSeconds) : withId
}

/**
 * The outermost middleware: names the request (X-Request-Id), admits it through the gate,
 * writes one log line per request with method, path, status and duration, and counts it in the
 * metrics. Every log line of the request carries its id. Query strings and bodies are not logged.
 */
export const requestLog = (app: HttpApp.Default): HttpApp.Default<never, RequestGate> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const requestId = requestIdFrom(request.headers[requestIdHeader])
    // The logger adds the id to every line logged under this (Logging.ts).
    return yield* Effect.locally(handle(app, request, requestId), currentRequestId, requestId)
  })

const handle = (app: HttpApp.Default, request: HttpServerRequest.HttpServerRequest, requestId: string) =>
  Effect.gen(function*() {
    const path = new URL(request.url, "http://localhost").pathname
    const gate = yield* RequestGate
    const startedMs = yield* gate.observe(request)
    // The app writes its response before this middleware sees it, so what every response gets
    // is added in a handler that runs just before it is sent.
    yield* HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(finish(response, requestId)))
    // The two responses written here, when the app wrote none, do not pass that handler.
    // A client abort stays what it is, so that it is logged and counted as 499 below: caught
    // here it was an "Unhandled failure" error line and a 500 in http_requests_total, once for
    // every client that gave up on a slow write (seen in test/fault, whose clients time out).
    const handled = app.pipe(
      Effect.catchAllCause((cause) =>
        isClientAbort(cause)
          ? Effect.failCause(cause)
          : isServerInterruption(cause)
          ? Effect.logWarning("Request interrupted", cause).pipe(Effect.as(finish(interrupted, requestId)))
          : Effect.logError("Unhandled failure", cause).pipe(Effect.as(finish(internalError, requestId)))
      )
    )
    const refused = Effect.succeed(finish(shuttingDown, requestId))
    const exit = yield* (path.replace(/\/$/, "") === livenessPath ? handled : gate.admit(handled, refused)).pipe(
      Effect.exit
    )
    const durationMs = (yield* Clock.currentTimeMillis) - startedMs
    // No response means the client went away and the request was interrupted.
    const status = Exit.isSuccess(exit) ? exit.value.status : 499
    // Checked first: below the log level the line is dropped anyway, and its annotations would
    // still have been set and unset on the fiber.
    yield* Effect.logInfo("request").pipe(
      Effect.annotateLogs({
        method: request.method,
        path,
        status,
        durationMs
      }),
      Effect.whenLogLevel("Info")
    )
    yield* Metric.increment(httpRequestsOf(request.method, String(status)))
    yield* Metric.update(httpRequestDuration, durationMs / 1000)
    return yield* exit
  })

import * as Layer from "effect/Layer"

/**
 * Effect's tracer is on by default and records every span whether or not anything exports it:
 * the HTTP server's span per request, one per `Effect.fn` use case and one per SQL statement,
 * each with its attributes (the statement text, the URL, every request header). The service
 * configures no exporter, so nobody ever reads them; switched off, a span is a shared no-op
 * and its attributes are dropped unread, which cut the service's CPU per request measurably
 * (bench/README.md, "Where the CPU goes"). Whoever adds an exporter turns it back on with it.
 */
export const TracingOffLive = Layer.setTracerEnabled(false)

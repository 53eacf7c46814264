import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import * as Tracer from "effect/Tracer"
import { currentRequestId } from "./http/RequestId.ts"

export const LoggingConfig = Config.all({
  level: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  format: Config.literal("json", "logfmt", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json" as const))
})

/**
 * Every line logged while a request is served names it: the id is read from the request's
 * fiber (http/RequestId.ts) as the line is written, instead of being set as a log annotation
 * around every request, which cost each request two copies of its fiber's state whether or not
 * it logged anything. When spans are exported (observability/Tracing.ts), the line also names
 * the trace and span it was written in, so a log search and a trace viewer lead to each other;
 * while tracing is off the current span is a no-op one, never sampled, and nothing is added.
 */
const withRequestContext = <Output>(logger: Logger.Logger<unknown, Output>) =>
  Logger.mapInputOptions(logger, (options) => {
    const requestId = FiberRefs.getOrDefault(options.context, currentRequestId)
    const span = Context.getOption(FiberRefs.getOrDefault(options.context, FiberRef.currentContext), Tracer.ParentSpan)
    const traced = Option.isSome(span) && span.value.sampled
    if (requestId === null && !traced) return options
    let annotations = requestId === null ? options.annotations : HashMap.set(options.annotations, "requestId", requestId)
    if (traced) {
      annotations = HashMap.set(HashMap.set(annotations, "traceId", span.value.traceId), "spanId", span.value.spanId)
    }
    return { ...options, annotations }
  })

const loggerOf = (format: "json" | "logfmt" | "pretty") =>
  format === "json"
    ? Logger.withConsoleLog(withRequestContext(Logger.jsonLogger))
    : format === "logfmt"
    ? Logger.withConsoleLog(withRequestContext(Logger.logfmtLogger))
    : withRequestContext(Logger.prettyLogger())

/** One structured line per event: JSON by default, for log shippers; logfmt or pretty for people. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(LoggingConfig, ({ format, level }) =>
    Layer.merge(Logger.replace(Logger.defaultLogger, loggerOf(format)), Logger.minimumLogLevel(level)))
)

/**
 * How a program that cannot start says so: an expected failure (bad configuration, an embedded
 * database that cannot start) is its message on one log line, which already says what to do; a
 * defect keeps its cause and stack trace, since it is a bug to find. Used with runMain's own
 * reporting off, so each failure is logged once.
 */
export const logStartFailure = (cause: Cause.Cause<unknown>) => {
  if (Cause.isInterruptedOnly(cause)) return Effect.void
  return Option.match(Cause.failureOption(cause), {
    onNone: () => Effect.logFatal("The service stopped on an unexpected error", cause),
    onSome: (error) => Effect.logFatal(error instanceof Error ? error.message : String(error))
  })
}

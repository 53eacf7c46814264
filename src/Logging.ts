import * as Cause from "effect/Cause"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as FiberRefs from "effect/FiberRefs"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Option from "effect/Option"
import { currentRequestId } from "./http/RequestId.ts"

export const LoggingConfig = Config.all({
  level: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  format: Config.literal("json", "logfmt", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json" as const))
})

/**
 * Every line logged while a request is served names it: the id is read from the request's
 * fiber (http/RequestId.ts) as the line is written, instead of being set as a log annotation
 * around every request, which cost each request two copies of its fiber's state whether or not
 * it logged anything.
 */
const withRequestId = <Output>(logger: Logger.Logger<unknown, Output>) =>
  Logger.mapInputOptions(logger, (options) => {
    const requestId = FiberRefs.getOrDefault(options.context, currentRequestId)
    return requestId === null ? options : { ...options, annotations: HashMap.set(options.annotations, "requestId", requestId) }
  })

const loggerOf = (format: "json" | "logfmt" | "pretty") =>
  format === "json"
    ? Logger.withConsoleLog(withRequestId(Logger.jsonLogger))
    : format === "logfmt"
    ? Logger.withConsoleLog(withRequestId(Logger.logfmtLogger))
    : withRequestId(Logger.prettyLogger())

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

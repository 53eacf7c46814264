import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"

export const LoggingConfig = Config.all({
  level: Config.logLevel("LOG_LEVEL").pipe(Config.withDefault(LogLevel.Info)),
  format: Config.literal("json", "logfmt", "pretty")("LOG_FORMAT").pipe(Config.withDefault("json" as const))
})

/** One structured line per event: JSON by default, for log shippers; logfmt or pretty for people. */
export const LoggingLive = Layer.unwrapEffect(
  Effect.map(LoggingConfig, ({ format, level }) =>
    Layer.merge(
      format === "json" ? Logger.json : format === "logfmt" ? Logger.logFmt : Logger.pretty,
      Logger.minimumLogLevel(level)
    ))
)

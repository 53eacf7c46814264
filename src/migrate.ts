import { BunRuntime } from "@effect/platform-bun"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { LoggingLive, logStartFailure } from "./Logging.ts"
import { migrate, PgLive } from "./Sql.ts"

/** Applies pending migrations and exits; the service also applies them at start-up. */
migrate.pipe(
  Effect.provide(PgLive),
  Effect.provide(DatabaseUrlLive),
  Effect.tapErrorCause(logStartFailure),
  // A logging configuration that fails is reported too, by the default logger.
  Effect.provide(Layer.tapErrorCause(LoggingLive, logStartFailure)),
  BunRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)

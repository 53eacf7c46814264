import { BunRuntime } from "@effect/platform-bun"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { LoggingLive, logStartFailure } from "./Logging.ts"
import { migrate, pgLiveForLongStatements } from "./Sql.ts"

/** Applies pending migrations and exits; the service also applies them at start-up. */
migrate.pipe(
  // Migrations may run long and silent: the pool for long statements, two connections (the
  // advisory lock's and the migrator's).
  Effect.provide(pgLiveForLongStatements(2)),
  Effect.provide(DatabaseUrlLive),
  Effect.tapErrorCause(logStartFailure),
  // A logging configuration that fails is reported too, by the default logger.
  Effect.provide(Layer.tapErrorCause(LoggingLive, logStartFailure)),
  BunRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)

import { BunRuntime } from "@effect/platform-bun"
import * as Effect from "effect/Effect"
import { DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { LoggingLive } from "./Logging.ts"
import { migrate, PgLive } from "./Sql.ts"

/** Applies pending migrations and exits; the service also applies them at start-up. */
migrate.pipe(
  Effect.provide(PgLive),
  Effect.provide(DatabaseUrlLive),
  Effect.provide(LoggingLive),
  BunRuntime.runMain({ disablePrettyLogger: true })
)

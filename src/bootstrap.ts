import { BunRuntime } from "@effect/platform-bun"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import { CreatedApiKey } from "./domain/ApiKey.ts"
import { DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { ApiKeyRepository } from "./ledger/ApiKeyRepository.ts"
import { LoggingLive, logStartFailure } from "./Logging.ts"
import { SqlLive } from "./Sql.ts"
import { bootstrapAdminKey } from "./wallet/ApiKeys.ts"

/**
 * Makes the first admin API key of a database with none and prints it as JSON on stdout (the
 * body POST /api/keys answers), then exits: `dino-wallet keys create --bootstrap` runs this.
 * The database is DATABASE_URL's, else the embedded one in EMBEDDED_PG_DIR (started, migrated
 * and stopped again, so the service must not be running on it). Logs go to stderr, warnings only.
 */
bootstrapAdminKey.pipe(
  Effect.flatMap((created) => Console.log(JSON.stringify(Schema.encodeSync(CreatedApiKey)(created)))),
  Effect.provide(ApiKeyRepository.Default),
  Effect.provide(SqlLive),
  Effect.provide(DatabaseUrlLive),
  Effect.tapErrorCause(logStartFailure),
  Effect.provide(Layer.tapErrorCause(LoggingLive, logStartFailure)),
  Effect.provide(Logger.minimumLogLevel(LogLevel.Warning)),
  BunRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)

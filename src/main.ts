import { HttpServer } from "@effect/platform"
import { BunRuntime } from "@effect/platform-bun"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { adminKeyFile, DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { BunServerLive } from "./http/Http.ts"
import { LoggingLive, logStartFailure } from "./Logging.ts"
import { ServiceLive } from "./Service.ts"
import { AdminKeyFile } from "./wallet/ApiKeys.ts"

ServiceLive(HttpServer.withLogAddress(BunServerLive)).pipe(
  Layer.provide([DatabaseUrlLive, Layer.effect(AdminKeyFile, adminKeyFile)]),
  Layer.launch,
  Effect.tapErrorCause(logStartFailure),
  // A logging configuration that fails is reported too, by the default logger.
  Effect.provide(Layer.tapErrorCause(LoggingLive, logStartFailure)),
  BunRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)

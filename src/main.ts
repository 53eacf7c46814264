import { HttpServer } from "@effect/platform"
import { BunRuntime } from "@effect/platform-bun"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { adminKeyFile, DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { BunServerLive } from "./http/Http.ts"
import { LoggingLive, logStartFailure } from "./Logging.ts"
import { ServiceLive } from "./Service.ts"
import { AdminKeyFile } from "./wallet/ApiKeys.ts"
import { WorkersLive } from "./Workers.ts"

WorkersLive.pipe(
  Layer.provideMerge(ServiceLive(HttpServer.withLogAddress(BunServerLive))),
  Layer.provide([DatabaseUrlLive, Layer.effect(AdminKeyFile, adminKeyFile)]),
  Layer.launch,
  // With WORKERS, several processes write to the same log: each line names its process.
  Effect.annotateLogs({ pid: process.pid }),
  Effect.tapErrorCause(logStartFailure),
  // A logging configuration that fails is reported too, by the default logger.
  Effect.provide(Layer.tapErrorCause(LoggingLive, logStartFailure)),
  BunRuntime.runMain({ disablePrettyLogger: true, disableErrorReporting: true })
)

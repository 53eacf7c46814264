import { HttpServer } from "@effect/platform"
import { BunRuntime } from "@effect/platform-bun"
import * as Layer from "effect/Layer"
import { DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { BunServerLive } from "./http/Http.ts"
import { LoggingLive } from "./Logging.ts"
import { ServiceLive } from "./Service.ts"

ServiceLive(HttpServer.withLogAddress(BunServerLive)).pipe(
  Layer.provide(DatabaseUrlLive),
  Layer.provide(LoggingLive),
  Layer.launch,
  BunRuntime.runMain({ disablePrettyLogger: true })
)

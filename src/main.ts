import { HttpServer } from "@effect/platform"
import { BunRuntime } from "@effect/platform-bun"
import * as Effect from "effect/Effect"
import { DatabaseUrlLive } from "./EmbeddedDatabase.ts"
import { BunServerLive } from "./http/Http.ts"
import { LoggingLive } from "./Logging.ts"
import { serve } from "./Service.ts"

serve(HttpServer.withLogAddress(BunServerLive)).pipe(
  Effect.provide(DatabaseUrlLive),
  Effect.provide(LoggingLive),
  BunRuntime.runMain({ disablePrettyLogger: true })
)

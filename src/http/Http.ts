import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { BunHttpServer } from "@effect/platform-bun"
import * as Config from "effect/Config"
import * as Layer from "effect/Layer"
import { WorkersConfig } from "../Workers.ts"
import { WalletApi } from "./Api.ts"
import { AssetsHttpLive } from "./AssetsHttp.ts"
import { AuthLive } from "./AuthHttp.ts"
import { ConsoleLive } from "./Console.ts"
import { EdgeErrorsLive, MaxBulkBodyBytes } from "./EdgeErrors.ts"
import { EventsHttpLive } from "./EventsHttp.ts"
import { HealthHttpLive } from "./HealthHttp.ts"
import { HoldsHttpLive } from "./HoldsHttp.ts"
import { KeysHttpLive } from "./KeysHttp.ts"
import { MetricsHttpLive } from "./MetricsHttp.ts"
import { ReconciliationHttpLive } from "./ReconciliationHttp.ts"
import { requestLog } from "./RequestLog.ts"
import { TransactionsHttpLive } from "./TransactionsHttp.ts"
import { UsersHttpLive } from "./UsersHttp.ts"
import { WalletsHttpLive } from "./WalletsHttp.ts"
import { WebhooksHttpLive } from "./WebhooksHttp.ts"
import { WhoAmIHttpLive } from "./WhoAmIHttp.ts"

export const ServerConfig = Config.all({
  port: Config.port("PORT").pipe(Config.withDefault(3000)),
  hostname: Config.string("HOST").pipe(Config.withDefault("0.0.0.0")),
  // Several processes share the port only when asked to (src/Workers.ts): with the option on, a
  // second service started by mistake on a taken port would share it instead of failing.
  reusePort: Config.map(WorkersConfig, (workers) => workers > 1)
})

export const ApiLive = HttpApiBuilder.api(WalletApi).pipe(
  Layer.provide([
    WalletsHttpLive,
    UsersHttpLive,
    TransactionsHttpLive,
    HoldsHttpLive,
    AssetsHttpLive,
    ReconciliationHttpLive,
    HealthHttpLive,
    MetricsHttpLive,
    KeysHttpLive,
    WhoAmIHttpLive,
    EventsHttpLive,
    WebhooksHttpLive
  ]),
  Layer.provide(AuthLive)
)

/**
 * The API with its edge error handling, OpenAPI document, offline docs page and support console,
 * not yet bound to a port.
 */
export const HttpAppLive = HttpApiBuilder.serve(requestLog).pipe(
  Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
  Layer.provide(ConsoleLive),
  Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/api/openapi.json" })),
  Layer.provide(EdgeErrorsLive),
  Layer.provide(ApiLive)
)

/**
 * Bun enforces a hard cap on bodies well above the API's own limit: the API answers a too-large
 * body with its JSON 413, Bun only stops a client that streams far more than that.
 */
export const BunServerLive = Layer.unwrapEffect(
  Config.map(ServerConfig, (config) =>
    BunHttpServer.layer({ ...config, maxRequestBodySize: 2 * MaxBulkBodyBytes, development: false }))
)

export const HttpLive = HttpAppLive.pipe(HttpServer.withLogAddress, Layer.provide(BunServerLive))

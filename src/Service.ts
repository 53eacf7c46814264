import type { HttpRouter, HttpServer } from "@effect/platform"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpAppLive } from "./http/Http.ts"
import { RequestGate } from "./http/RequestGate.ts"
import { LedgerRepository } from "./ledger/LedgerRepository.ts"
import { SqlLive } from "./Sql.ts"
import { WalletService } from "./wallet/WalletService.ts"

/** The wallet's layer graph below HTTP: SqlClient (migrated), LedgerRepository, WalletService. */
export const WalletLive = WalletService.Default.pipe(
  Layer.provide(LedgerRepository.Default),
  Layer.provideMerge(SqlLive)
)

const drainTimeout = Config.duration("SHUTDOWN_DRAIN_TIMEOUT").pipe(Config.withDefault("10 seconds"))

/**
 * Serves the API on the given HTTP server until interrupted (SIGTERM, SIGINT). On the way out
 * the gate drains requests in flight first; then the server, the pool and the database (if
 * embedded) close in the reverse order they opened.
 */
export const serve = <A extends HttpServer.HttpServer | HttpRouter.HttpRouter.DefaultServices, E, R>(
  httpServer: Layer.Layer<A, E, R>
) =>
  Effect.gen(function*() {
    const gate = yield* RequestGate
    const timeout = yield* drainTimeout
    yield* Layer.build(HttpAppLive.pipe(Layer.provide(httpServer)))
    yield* Effect.addFinalizer(() => gate.drain(timeout))
    return yield* Effect.never
  }).pipe(
    Effect.scoped,
    Effect.provide(Layer.merge(WalletLive, RequestGate.Default))
  )

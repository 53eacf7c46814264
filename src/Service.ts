import type { HttpRouter, HttpServer } from "@effect/platform"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpAppLive } from "./http/Http.ts"
import { RequestGate } from "./http/RequestGate.ts"
import { HttpSpansOffLive } from "./http/RequestLog.ts"
import { LedgerRepository } from "./ledger/LedgerRepository.ts"
import { TracingOffLive } from "./observability/Tracing.ts"
import { SqlLive } from "./Sql.ts"
import { Committer } from "./wallet/Committer.ts"
import { WalletService } from "./wallet/WalletService.ts"

/**
 * The wallet's layer graph below HTTP: SqlClient (migrated), LedgerRepository, the write
 * Committer and WalletService. The committer is built after the pool, so on shutdown it
 * commits and answers what is queued before the pool closes.
 */
export const WalletLive = WalletService.Default.pipe(
  Layer.provide(Committer.Default),
  Layer.provideMerge(LedgerRepository.Default),
  Layer.provideMerge(SqlLive)
)

const drainTimeout = Config.duration("SHUTDOWN_DRAIN_TIMEOUT").pipe(Config.withDefault("10 seconds"))

/**
 * Built after the server, so released before it: on SIGTERM the gate first refuses new
 * requests and waits for those in flight, then the server, the pool and the database (if
 * embedded) close in the reverse order they opened.
 */
const DrainOnShutdownLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const gate = yield* RequestGate
    const timeout = yield* drainTimeout
    yield* Effect.addFinalizer(() => gate.drain(timeout))
  })
)

/**
 * The whole service on the given HTTP server, needing only a DatabaseUrl. Spans are off for
 * every layer and every request it serves (observability/Tracing.ts).
 */
export const ServiceLive = <A extends HttpServer.HttpServer | HttpRouter.HttpRouter.DefaultServices, E, R>(
  httpServer: Layer.Layer<A, E, R>
) =>
  DrainOnShutdownLive.pipe(
    Layer.provideMerge(HttpAppLive),
    Layer.provideMerge(httpServer),
    Layer.provideMerge(WalletLive),
    Layer.provideMerge(RequestGate.Default),
    Layer.provide(Layer.merge(TracingOffLive, HttpSpansOffLive))
  )

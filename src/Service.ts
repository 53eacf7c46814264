import type { HttpRouter, HttpServer } from "@effect/platform"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { HttpAppLive } from "./http/Http.ts"
import { RequestGate } from "./http/RequestGate.ts"
import { EventRetention } from "./jobs/EventRetention.ts"
import { EventSequencer } from "./jobs/EventSequencer.ts"
import { NatsRelayLive } from "./jobs/NatsRelay.ts"
import { WebhookDelivery } from "./jobs/WebhookDelivery.ts"
import { ApiKeyRepository } from "./ledger/ApiKeyRepository.ts"
import { EventRepository } from "./ledger/EventRepository.ts"
import { AssetRepository } from "./ledger/AssetRepository.ts"
import { HoldRepository } from "./ledger/HoldRepository.ts"
import { LedgerRepository } from "./ledger/LedgerRepository.ts"
import { ReconciliationRepository } from "./ledger/ReconciliationRepository.ts"
import { TransactionRepository } from "./ledger/TransactionRepository.ts"
import { UserRepository } from "./ledger/UserRepository.ts"
import { WebhookRepository } from "./ledger/WebhookRepository.ts"
import { TracingLive } from "./observability/Tracing.ts"
import { ShutdownBudget } from "./Shutdown.ts"
import { pgLiveForLongStatements, SqlLive } from "./Sql.ts"
import { ApiKeys } from "./wallet/ApiKeys.ts"
import { AssetService } from "./wallet/AssetService.ts"
import { Committer } from "./wallet/Committer.ts"
import { EventFeed } from "./wallet/EventFeed.ts"
import { EventSignals } from "./wallet/EventSignals.ts"
import { Holds } from "./wallet/Holds.ts"
import { IdempotencyRetention } from "./wallet/IdempotencyRetention.ts"
import { ReadBatcher } from "./wallet/ReadBatcher.ts"
import { ReconciliationService, ReconciliationTimeout } from "./wallet/ReconciliationService.ts"
import { TransactionLookup } from "./wallet/TransactionLookup.ts"
import { Users } from "./wallet/Users.ts"
import { WalletService } from "./wallet/WalletService.ts"
import { Webhooks } from "./wallet/Webhooks.ts"

/** Events out of the ledger: the feed, and the jobs every process runs (src/jobs/). */
const EventsLive = Layer.mergeAll(
  EventFeed.Default,
  EventSequencer.Default,
  EventRetention.Default,
  Webhooks.Default,
  WebhookDelivery.Default.pipe(Layer.provide(EventFeed.Default)),
  NatsRelayLive.pipe(Layer.provide(EventFeed.Default))
).pipe(Layer.provide(WebhookRepository.Default))

/**
 * Reconciliation reads the whole ledger, silent for up to RECONCILIATION_TIMEOUT: on a pool of
 * its own (it runs one at a time per process), whose bound on a silent connection is a few
 * seconds above that, instead of the service pool's DATABASE_QUERY_TIMEOUT_MS.
 */
const ReconciliationPgLive = Layer.unwrapEffect(
  Effect.map(ReconciliationTimeout, (timeout) => pgLiveForLongStatements(1, Duration.toMillis(timeout) + 5_000))
)

/**
 * The wallet's layer graph below HTTP: SqlClient (migrated), LedgerRepository, the write
 * Committer, WalletService and Holds (with the expiry worker), sharing one committer; beside them the API keys with their in-memory table, the
 * lookups, users, assets, reconciliation and the pruning of old idempotency records. The committer is
 * built after the pool, so on shutdown it commits and answers what is queued before the pool
 * closes. It needs an AdminKeyFile: where a first admin key is written, if anywhere.
 */
export const WalletLive = Layer.mergeAll(
  Layer.merge(WalletService.Default, Holds.Default.pipe(Layer.provide(HoldRepository.Default))).pipe(
    Layer.provide([Committer.Default, ReadBatcher.Default])
  ),
  ApiKeys.Default.pipe(Layer.provide(ApiKeyRepository.Default)),
  IdempotencyRetention.Default,
  AssetService.Default.pipe(Layer.provide(AssetRepository.Default)),
  ReconciliationService.Default.pipe(Layer.provide(ReconciliationRepository.Default), Layer.provide(ReconciliationPgLive)),
  TransactionLookup.Default,
  Users.Default.pipe(Layer.provide(UserRepository.Default)),
  EventsLive
).pipe(
  Layer.provideMerge(Layer.mergeAll(EventSignals.Default, EventRepository.Default, TransactionRepository.Default)),
  Layer.provideMerge(LedgerRepository.Default),
  Layer.provideMerge(SqlLive),
  Layer.provideMerge(ShutdownBudget.Default)
)

const drainTimeout = Config.duration("SHUTDOWN_DRAIN_TIMEOUT").pipe(Config.withDefault("10 seconds"))

/**
 * Built after the server, so released before it: on SIGTERM the gate first refuses new
 * requests and waits for those in flight, then the server stops listening and answers what it
 * has taken (see RequestGate.stopListening), then the server, the pool and the database (if
 * embedded) close in the reverse order they opened.
 */
const DrainOnShutdownLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const gate = yield* RequestGate
    const budget = yield* ShutdownBudget
    const timeout = yield* drainTimeout
    // Each phase at most SHUTDOWN_DRAIN_TIMEOUT, and both within SHUTDOWN_TIMEOUT with the rest.
    yield* Effect.addFinalizer(() =>
      Effect.flatMap(budget.within(timeout), gate.drain).pipe(
        Effect.zipRight(Effect.flatMap(budget.within(timeout), (left) => gate.stopListening(left)))
      )
    )
  })
)

/**
 * The whole service on the given HTTP server, needing only a DatabaseUrl. Spans are off for
 * every layer and every request it serves unless OTEL_EXPORTER_OTLP_ENDPOINT names a collector
 * to export them to (observability/Tracing.ts).
 */
export const ServiceLive = <A extends HttpServer.HttpServer | HttpRouter.HttpRouter.DefaultServices, E, R>(
  httpServer: Layer.Layer<A, E, R>
) =>
  DrainOnShutdownLive.pipe(
    Layer.provideMerge(HttpAppLive),
    Layer.provideMerge(httpServer),
    Layer.provideMerge(WalletLive),
    Layer.provideMerge(RequestGate.Default),
    Layer.provide(TracingLive)
  )

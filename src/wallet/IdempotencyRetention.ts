import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { idempotencyRecordsPruned } from "../observability/Metrics.ts"
import { pruneEvery, pruneOlderThan } from "./RetentionRounds.ts"

export const RetentionConfig = Config.all({
  // Shorter than an hour would let a client's ordinary retries outlive the key they retry with.
  retention: Config.duration("IDEMPOTENCY_RETENTION").pipe(
    Config.validate({
      message: "Expected a duration of at least 1 hour",
      validation: (d) => Duration.greaterThanOrEqualTo(d, Duration.hours(1))
    }),
    Config.withDefault(Duration.days(30))
  ),
  interval: Config.duration("IDEMPOTENCY_PRUNE_INTERVAL").pipe(
    Config.validate({
      message: "Expected a duration of at least 100 millis",
      validation: (d) => Duration.greaterThanOrEqualTo(d, Duration.millis(100))
    }),
    Config.withDefault(Duration.minutes(1))
  )
})

/** Rows per DELETE: small, so a round holds few row locks and the WAL grows in small steps. */
export const PruneBatchSize = 1_000

/**
 * Keeps the idempotency table from growing forever: every IDEMPOTENCY_PRUNE_INTERVAL, the
 * records older than IDEMPOTENCY_RETENTION are deleted, PruneBatchSize at a time until none is
 * left. A retry that comes after its key was pruned is a new request and applies again.
 *
 * The ledger itself is untouched (transactions and entries are append-only); only the record
 * of which request decided what goes. A round that fails (database down) is logged and the
 * next one tries again: pruning must never stop the service.
 */
export class IdempotencyRetention extends Effect.Service<IdempotencyRetention>()("IdempotencyRetention", {
  scoped: Effect.gen(function*() {
    const config = yield* RetentionConfig
    const repository = yield* LedgerRepository

    /** Deletes every record older than the retention; returns how many. */
    const prune = pruneOlderThan(config.retention, PruneBatchSize, (cutoff, limit) =>
      repository.pruneIdempotencyRecords(cutoff, limit).pipe(
        Effect.tap((deleted) => Metric.incrementBy(idempotencyRecordsPruned, deleted))
      ))

    yield* pruneEvery(config.interval, "idempotency records", prune)
    return { prune } as const
  })
}) {}

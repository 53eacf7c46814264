import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { AssetReconciliation, isReconciled, Reconciliation } from "../domain/Reconciliation.ts"
import { ReconciliationRepository } from "../ledger/ReconciliationRepository.ts"

export const ReconciliationTimeout = Config.duration("RECONCILIATION_TIMEOUT").pipe(
  Config.validate({
    message: "Expected a duration from 1 second to 10 minutes",
    validation: (d) => Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.minutes(10) })
  }),
  Config.withDefault(Duration.minutes(1))
)

/**
 * The finance team's check: every asset sums to zero and every wallet's balance equals its
 * credits minus its debits. One at a time per process, since each reads the whole ledger.
 */
export class ReconciliationService extends Effect.Service<ReconciliationService>()("ReconciliationService", {
  effect: Effect.gen(function*() {
    const repository = yield* ReconciliationRepository
    const timeout = yield* ReconciliationTimeout
    const oneAtATime = yield* Effect.makeSemaphore(1)

    const reconcile = Effect.gen(function*() {
      const rows = yield* repository.reconcile(timeout)
      const assets = rows.map(({ checkedAt: _, ...figures }) => new AssetReconciliation(figures))
      return new Reconciliation({
        ok: assets.every(isReconciled),
        checkedAt: rows[0]?.checkedAt ?? new Date(),
        assets
      })
    }).pipe(oneAtATime.withPermits(1), Effect.withSpan("ReconciliationService.reconcile"))

    return { reconcile } as const
  })
}) {}

import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"

/**
 * Deletes what is older than `retention`, `batchSize` rows a statement until one deletes fewer
 * (small statements hold few row locks and grow the WAL in small steps), and answers how many.
 */
export const pruneOlderThan = <E>(
  retention: Duration.Duration,
  batchSize: number,
  deleteBatch: (cutoff: Date, limit: number) => Effect.Effect<number, E>
) =>
  Effect.gen(function*() {
    const cutoff = new Date(Date.now() - Duration.toMillis(retention))
    let total = 0
    while (true) {
      const deleted = yield* deleteBatch(cutoff, batchSize)
      total += deleted
      if (deleted < batchSize) return total
    }
  })

/**
 * Runs `prune` every `interval` in the scope, in every process: what it deleted is logged, and a
 * round that fails (the database down) is logged and the next one tries again, since pruning
 * must never stop the service. `what` names the rows in the log lines.
 */
export const pruneEvery = <E>(interval: Duration.Duration, what: string, prune: Effect.Effect<number, E>) =>
  Effect.forkScoped(
    Effect.repeat(
      prune.pipe(
        Effect.tap((total) =>
          total > 0 ? Effect.logInfo(`Pruned ${what} past their retention`).pipe(Effect.annotateLogs({ total })) : Effect.void
        ),
        Effect.catchAllCause((cause) => Effect.logWarning(`Pruning ${what} failed; trying again later`, cause))
      ),
      Schedule.spaced(interval)
    )
  )

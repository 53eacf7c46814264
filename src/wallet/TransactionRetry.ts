import * as Cause from "effect/Cause"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { transactionRetries } from "../observability/Metrics.ts"
import { isConflict } from "../SqlFailure.ts"

class TransactionConflict extends Data.TaggedError("TransactionConflict")<{ readonly cause: unknown }> {}

/** At most 5 more attempts, 5 ms doubling with jitter: about 150 ms in the worst case. */
const conflictSchedule = Schedule.exponential("5 millis").pipe(
  Schedule.jittered,
  Schedule.intersect(Schedule.recurs(5))
)

/**
 * Runs a whole transaction again when PostgreSQL aborted it for a serialization failure or a
 * deadlock. `sql.withTransaction` never retries, and such a failure at COMMIT can surface as a
 * defect rather than a typed SqlError, so both channels are searched. After the last attempt
 * the conflict stays a defect: an unexpected 500, logged.
 */
export const retryOnConflict = <A, E, R>(transaction: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => {
  const surfaced: Effect.Effect<A, E | TransactionConflict, R> = Effect.catchAllCause(
    transaction,
    (cause): Effect.Effect<never, E | TransactionConflict> =>
      Option.match(Cause.find(cause, retryableReason), {
        onNone: () => Effect.failCause(cause),
        onSome: (sqlError) =>
          Metric.increment(transactionRetries).pipe(Effect.zipRight(Effect.fail(new TransactionConflict({ cause: sqlError }))))
      })
  )
  return surfaced.pipe(
    Effect.retry({ schedule: conflictSchedule, while: (e) => e instanceof TransactionConflict }),
    Effect.catchAll((e) => e instanceof TransactionConflict ? Effect.die(e.cause) : Effect.fail(e as E))
  )
}

const retryableReason = (reason: Cause.Cause<unknown>): Option.Option<unknown> => {
  const error = reason._tag === "Fail" ? reason.error : reason._tag === "Die" ? reason.defect : undefined
  return isConflict(error) ? Option.some(error) : Option.none()
}

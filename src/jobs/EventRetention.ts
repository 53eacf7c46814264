import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { EventRepository } from "../ledger/EventRepository.ts"
import { RetentionConfig } from "../wallet/IdempotencyRetention.ts"
import { pruneEvery, pruneOlderThan } from "../wallet/RetentionRounds.ts"

/**
 * EVENTS_RETENTION defaults to IDEMPOTENCY_RETENTION, and may not be shorter: a client that
 * retries a write may still look for its event as long as its key is remembered.
 */
export const EventRetentionConfig = Effect.gen(function*() {
  const idempotency = yield* RetentionConfig
  const retention = yield* Config.duration("EVENTS_RETENTION").pipe(
    Config.validate({
      message: `Expected a duration at least as long as IDEMPOTENCY_RETENTION (${Duration.format(idempotency.retention)})`,
      validation: (d) => Duration.greaterThanOrEqualTo(d, idempotency.retention)
    }),
    Config.withDefault(idempotency.retention)
  )
  return { retention, interval: idempotency.interval } as const
})

/** Rows per DELETE, as for idempotency records: a round holds few row locks. */
export const EventPruneBatchSize = 1_000

/**
 * Keeps the outbox from growing forever, as IdempotencyRetention keeps the keys: every
 * IDEMPOTENCY_PRUNE_INTERVAL, numbered events older than EVENTS_RETENTION go, with their
 * webhook deliveries. The ledger is untouched; a reader further behind than the retention
 * resumes at the oldest event kept. A failed round is logged and the next tries again.
 */
export class EventRetention extends Effect.Service<EventRetention>()("EventRetention", {
  scoped: Effect.gen(function*() {
    const config = yield* EventRetentionConfig
    const events = yield* EventRepository

    const prune = pruneOlderThan(config.retention, EventPruneBatchSize, (cutoff, limit) => events.prune(cutoff, limit))

    yield* pruneEvery(config.interval, "events", prune)
    return { prune } as const
  })
}) {}

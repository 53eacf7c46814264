import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { EventRepository } from "../ledger/EventRepository.ts"
import { EventSignals } from "../wallet/EventSignals.ts"

export const EventsConfig = Config.all({
  /** How often every process looks for work even when nothing woke it (the polling fallback). */
  pollInterval: Config.duration("EVENTS_POLL_INTERVAL").pipe(
    Config.validate({
      message: "Expected a duration from 10 millis to 1 minute",
      validation: (d) => Duration.between(d, { minimum: Duration.millis(10), maximum: Duration.minutes(1) })
    }),
    Config.withDefault(Duration.seconds(1))
  )
})

/** Events numbered per transaction: a bound on the sequencer's transaction, not on throughput. */
export const NumberBatchSize = 5_000

/** How long to keep trying while another process's sequencer holds the row (it holds it briefly). */
const BusyRetries = 100

/**
 * The sequencer: after each local commit (and every EVENTS_POLL_INTERVAL, for events a
 * process committed and died before numbering), numbers every committed event in one
 * transaction under the one sequencer row that every process shares. When another process
 * numbers, this one tries again shortly: the other's snapshot may predate this process's
 * commit. The numbers commit at once with their NOTIFY, which wakes every process's delivery
 * and relays (through `listen` here, re-established if its connection is lost).
 */
export class EventSequencer extends Effect.Service<EventSequencer>()("EventSequencer", {
  scoped: Effect.gen(function*() {
    const config = yield* EventsConfig
    const events = yield* EventRepository
    const signals = yield* EventSignals

    /** Numbers until none is left; returns how many. */
    const numberAll = Effect.gen(function*() {
      let total = 0
      let busy = 0
      while (true) {
        const numbering = yield* events.number(NumberBatchSize)
        if (numbering._tag === "Busy") {
          if (++busy > BusyRetries) return total
          yield* Effect.sleep("10 millis")
          continue
        }
        total += numbering.count
        if (numbering.count > 0) yield* signals.numbered
        if (numbering.count < NumberBatchSize) return total
      }
    })

    const onCommitted = yield* signals.onCommitted
    yield* Effect.forkScoped(
      numberAll.pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("Numbering events failed; trying again later", cause)),
        Effect.zipRight(onCommitted(config.pollInterval)),
        Effect.forever
      )
    )

    // Other processes' numbers: each notification wakes this process's senders.
    yield* Effect.forkScoped(
      events.listen.pipe(
        Stream.runForEach(() => signals.numbered),
        Effect.catchAllCause((cause) => Effect.logDebug("Listening for events stopped; listening again", cause)),
        Effect.repeat(Schedule.spaced(config.pollInterval))
      )
    )

    return { numberAll } as const
  })
}) {}

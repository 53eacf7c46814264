import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as PubSub from "effect/PubSub"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"

/**
 * Wakes a fiber when something was published, or after `timeout` at the latest (the polling
 * fallback). Pokes that come while nobody waits are kept as one, so a poke is never lost and
 * a burst of them is one wake-up.
 */
export type Waiter = (timeout: Duration.DurationInput) => Effect.Effect<void>

const waiterOf = (pubsub: PubSub.PubSub<void>): Effect.Effect<Waiter, never, Scope.Scope> =>
  Effect.map(PubSub.subscribe(pubsub), (queue) => (timeout) =>
    Queue.take(queue).pipe(
      Effect.zipRight(Queue.takeAll(queue)),
      Effect.timeoutOption(timeout),
      Effect.asVoid
    ))

/**
 * In-process wake-ups between the write path and the event jobs (src/jobs/): `committed` after
 * a batch commits (the sequencer then numbers its events), `numbered` when events got numbers
 * (delivery and relays then send them). Only memory: a poke costs the committer nothing it
 * would wait on, and other processes hear of numbered events through LISTEN/NOTIFY instead.
 */
export class EventSignals extends Effect.Service<EventSignals>()("EventSignals", {
  effect: Effect.gen(function*() {
    const committed = yield* PubSub.sliding<void>(1)
    const numbered = yield* PubSub.sliding<void>(1)
    return {
      committed: Effect.asVoid(PubSub.publish(committed, undefined)),
      numbered: Effect.asVoid(PubSub.publish(numbered, undefined)),
      onCommitted: waiterOf(committed),
      onNumbered: waiterOf(numbered)
    } as const
  })
}) {}

import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { Event, EventPage, type EventQuery, EventsLimitDefault, postedDetail } from "../domain/Event.ts"
import { type EventRow, EventRepository } from "../ledger/EventRepository.ts"
import { TransactionRepository } from "../ledger/TransactionRepository.ts"
import { detailOf } from "./TransactionLookup.ts"

const encodeEvent = Schema.encodeSync(Event)

/**
 * The feed of numbered events, and events rendered whole for every way out (the feed, webhooks,
 * NATS): `data` is read with the transaction lookup's own statement and shaping, so it is the
 * lookup's body by construction, as it stood when the transaction was posted.
 */
export class EventFeed extends Effect.Service<EventFeed>()("EventFeed", {
  effect: Effect.gen(function*() {
    const events = yield* EventRepository
    const transactions = yield* TransactionRepository

    /** The rows' events, in the rows' order. A row's transaction is always there: same commit. */
    const render = (rows: ReadonlyArray<EventRow>) =>
      Effect.gen(function*() {
        if (rows.length === 0) return []
        const found = yield* transactions.byIds(rows.map((row) => row.transactionId))
        const byId = new Map(found.map((row) => [row.transactionId, row]))
        return rows.map((row) => {
          const transaction = byId.get(row.transactionId)
          if (transaction === undefined) throw new Error(`Event ${row.id} has no transaction ${row.transactionId}`)
          return new Event({
            id: row.id,
            sequence: row.sequence,
            type: row.type,
            createdAt: row.createdAt,
            data: postedDetail(detailOf(transaction))
          }, true)
        })
      })

    const page = Effect.fn("EventFeed.page")(function*(query: EventQuery) {
      const after = query.after ?? 0
      const rows = yield* events.after(after, query.types, query.limit ?? EventsLimitDefault)
      const rendered = yield* render(rows)
      return new EventPage({ events: rendered, nextAfter: rows.at(-1)?.sequence ?? after }, true)
    })

    return {
      page,
      render,
      /** The event's JSON as the feed shows it: the exact bytes a webhook signs and NATS carries. */
      json: (event: Event) => JSON.stringify(encodeEvent(event))
    } as const
  })
}) {}

import * as Schema from "effect/Schema"
import { MaxAmount, PositiveIntFromString } from "./Limits.ts"
import { TransactionDetail } from "./Lookup.ts"

/**
 * Events out of the ledger. One type for now: a ledger transaction was committed. Its `data` is
 * the transaction exactly as GET /api/transactions/{id} answered right after it was posted.
 */
export const EventTypes = ["transaction.posted"] as const
export const EventType = Schema.Literal(...EventTypes)
export type EventType = typeof EventType.Type

export const EventId = Schema.UUID.pipe(Schema.brand("EventId"), Schema.annotations({ description: "Id of an event, stable across retries" }))
export type EventId = typeof EventId.Type

/** A position in the feed: gap-free and strictly increasing from 1. */
export const EventSequence = Schema.Int.pipe(Schema.between(1, MaxAmount))

export class Event extends Schema.Class<Event>("Event")({
  id: EventId,
  sequence: EventSequence,
  type: EventType,
  createdAt: Schema.Date,
  data: TransactionDetail
}) {}

/**
 * What a freshly posted transaction's lookup shows: a transaction has no reversal when it is
 * posted (a reversal names a transaction already committed), so reversedBy is empty whatever
 * the ledger holds when the event is read.
 */
export const postedDetail = (detail: TransactionDetail): TransactionDetail =>
  detail.reversedBy.length === 0 ? detail : new TransactionDetail({ ...detail, reversedBy: [] }, true)

export const EventsLimitMax = 1_000
export const EventsLimitDefault = 100

/** `types=transaction.posted,...`: known types, each at most once. */
const EventTypeList = Schema.String.pipe(
  Schema.maxLength(1_024),
  Schema.compose(Schema.split(",")),
  Schema.compose(Schema.Array(EventType)),
  Schema.filter((types) => types.length > 0 && new Set(types).size === types.length || "expected known types, each once")
)

export const EventQuery = Schema.Struct({
  after: Schema.optional(PositiveIntFromString(MaxAmount)).annotations({
    description: "Events after this sequence (a previous page's nextAfter); from the start when omitted"
  }),
  types: Schema.optional(EventTypeList).annotations({ description: `Comma-separated: ${EventTypes.join(", ")}` }),
  limit: Schema.optional(PositiveIntFromString(EventsLimitMax).pipe(Schema.greaterThanOrEqualTo(1))).annotations({
    description: `1 to ${EventsLimitMax}, default ${EventsLimitDefault}`
  })
})
export type EventQuery = typeof EventQuery.Type

export class EventPage extends Schema.Class<EventPage>("EventPage")({
  events: Schema.Array(Event),
  nextAfter: Schema.Int.annotations({ description: "The sequence of the page's last event, or `after` when it is empty" })
}) {}

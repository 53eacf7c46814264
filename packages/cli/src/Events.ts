import { Command, Options } from "@effect/cli"
import { Event, EventQuery, EventsLimitMax } from "@dino-wallet/client"
import * as Console from "effect/Console"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { client, decode, explained, root } from "./Cli.ts"

/**
 * `events tail`: follows GET /api/events from a sequence, one line per event, until interrupted
 * (Ctrl-C ends it with exit 0). A full page is followed at once; after a short one it waits a
 * second before asking again, from the last page's nextAfter, so nothing is shown twice or skipped.
 */

const PollInterval = "1 second"

const encodeEvent = Schema.encode(Event)

/** One line: where it is in the feed, when, and what the transaction did. */
const eventLine = (event: Event) => {
  const posted = event.data
  const legs = posted.legs.map((leg) => `${leg.amount} ${leg.assetCode} ${leg.fromUserId}->${leg.toUserId}`).join(", ")
  return `#${event.sequence} ${event.createdAt.toISOString()} ${event.type} ${posted.type} ${posted.transactionId} ${legs}`
}

const tail = Command.make("tail", {
  after: Options.integer("after").pipe(
    Options.withDescription("Start after this sequence (default: from the oldest event the service keeps)"),
    Options.optional
  ),
  types: Options.text("types").pipe(Options.withDescription("Only these types, comma-separated (e.g. transaction.posted)"), Options.optional),
  limit: Options.integer("limit").pipe(Options.withDescription(`Events per request, 1 to ${EventsLimitMax}`), Options.withDefault(100))
}, ({ after, limit, types }) =>
  Effect.gen(function*() {
    const wallet = yield* client
    const { json } = yield* root
    const query = (from: Option.Option<number>) =>
      decode(EventQuery, {
        limit: String(limit),
        ...Option.match(from, { onNone: () => ({}), onSome: (sequence) => ({ after: String(sequence) }) }),
        ...Option.match(types, { onNone: () => ({}), onSome: (list) => ({ types: list }) })
      })
    // Checked once before the first request, so a bad --after or --types fails at once.
    yield* query(after)

    let from = after
    while (true) {
      const page = yield* wallet.events.feed({ urlParams: yield* query(from) })
      for (const event of page.events) {
        yield* Console.log(json ? JSON.stringify(yield* encodeEvent(event)) : eventLine(event))
      }
      if (page.events.length > 0) from = Option.some(page.nextAfter)
      if (page.events.length < limit) yield* Effect.sleep(PollInterval)
    }
  }).pipe(explained)).pipe(Command.withDescription("Follow the events feed, one event a line (--json: its JSON), until Ctrl-C"))

export const events = Command.make("events").pipe(Command.withSubcommands([tail]))

import * as SqlClient from "@effect/sql/SqlClient"
import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { connect, type JetStreamClient, type NatsConnection } from "nats"
import { EventRepository } from "../ledger/EventRepository.ts"
import { EventFeed } from "../wallet/EventFeed.ts"
import { EventSignals } from "../wallet/EventSignals.ts"
import { EventsConfig } from "./EventSequencer.ts"

export const NatsRelayConfig = Config.all({
  /** Unset: no relay. May carry credentials (nats://user:pass@host:4222), hence Redacted. */
  url: Config.option(Config.redacted("EVENTS_NATS_URL")),
  subjectPrefix: Config.string("EVENTS_NATS_SUBJECT_PREFIX").pipe(
    Config.validate({
      message: "Expected dot-separated tokens of [A-Za-z0-9_-]",
      validation: (prefix) => /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(prefix) && prefix.length <= 200
    }),
    Config.withDefault("dino.wallet.events")
  )
})

/** The relay's row in event_relays: where it stands in the feed. */
const RelayName = "nats"

/** Events per transaction of the relay: the row stays locked while they are published. */
export const RelayBatchSize = 500

const encoder = new TextEncoder()

/**
 * Publishes the feed to NATS JetStream when EVENTS_NATS_URL is set: each event, in sequence
 * order, to `<EVENTS_NATS_SUBJECT_PREFIX>.<type>` with its JSON (as the feed shows it) and the
 * header Nats-Msg-Id = event id. One process relays at a time: it locks its row of
 * event_relays (SKIP LOCKED), publishes the events after the stored sequence one by one, each
 * acknowledged by the stream before the next is sent (so they are stored in order), and stores
 * the last acknowledged sequence in the same transaction. A crash or a failed publish leaves the
 * stored sequence where it was; the next round publishes those events again, and JetStream
 * drops the copies by Nats-Msg-Id within the stream's duplicate window (2 minutes by default).
 * The stream is the operator's to create (README); without one, publishes fail and are retried.
 */
const relay = (url: Redacted.Redacted<string>, subjectPrefix: string) =>
  Effect.gen(function*() {
    const { pollInterval } = yield* EventsConfig
    const sql = yield* SqlClient.SqlClient
    const events = yield* EventRepository
    const feed = yield* EventFeed
    const signals = yield* EventSignals

    // The client reconnects by itself for as long as the service runs. Not an acquireRelease:
    // its acquisition could not be interrupted, and shutdown must not wait on an absent server.
    const connection: NatsConnection = yield* Effect.tryPromise(() =>
      connect({ servers: Redacted.value(url), name: "dino-wallet", waitOnFirstConnect: true, maxReconnectAttempts: -1 })
    ).pipe(
      Effect.tapError((error) => Effect.logWarning("Connecting to NATS failed; trying again", error)),
      Effect.retry(Schedule.spaced("1 second"))
    )
    yield* Effect.addFinalizer(() => Effect.promise(() => connection.close()))
    const jetstream: JetStreamClient = connection.jetstream()

    /** One batch; returns how many events it published (0 when none is waiting or another process relays). */
    const publishBatch = Effect.gen(function*() {
      const last = yield* events.lockRelay(RelayName)
      if (last === undefined) return 0
      const rows = yield* events.after(last, undefined, RelayBatchSize)
      if (rows.length === 0) return 0
      for (const event of yield* feed.render(rows)) {
        yield* Effect.tryPromise(() =>
          jetstream.publish(`${subjectPrefix}.${event.type}`, encoder.encode(feed.json(event)), { msgID: event.id })
        )
      }
      yield* events.moveRelay(RelayName, rows.at(-1)!.sequence)
      return rows.length
    }).pipe(sql.withTransaction)

    const round = Effect.gen(function*() {
      while ((yield* publishBatch) === RelayBatchSize) {
        // Another full batch may be waiting.
      }
    }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("Publishing events to NATS failed; trying again later", cause)))

    const wait = yield* signals.onNumbered
    yield* Effect.forkScoped(Effect.forever(Effect.zipRight(round, wait(pollInterval))))
  })

/** The relay, forked in the background when EVENTS_NATS_URL is set; nothing otherwise. */
export const NatsRelayLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    const config = yield* NatsRelayConfig
    if (Option.isNone(config.url)) return
    yield* Effect.forkScoped(relay(config.url.value, config.subjectPrefix))
  })
)

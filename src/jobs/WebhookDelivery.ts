import * as Config from "effect/Config"
import * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import type { Event } from "../domain/Event.ts"
import type { EventRow } from "../ledger/EventRepository.ts"
import { type AttemptOutcome, type ClaimedDelivery, WebhookRepository } from "../ledger/WebhookRepository.ts"
import { EventFeed } from "../wallet/EventFeed.ts"
import { EventSignals } from "../wallet/EventSignals.ts"
import { EventsConfig } from "./EventSequencer.ts"
import { signature } from "./WebhookSignature.ts"

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `5s,5m,30m,2h`: the waits before each retry, in order; then the delivery is FAILED. */
export const parseRetrySchedule = (text: string): Either.Either<ReadonlyArray<number>, string> => {
  const steps = text.split(",").map((step) => /^\s*([0-9]{1,9})(ms|s|m|h|d)\s*$/.exec(step))
  if (steps.length > 20 || steps.some((step) => step === null)) {
    return Either.left("Expected at most 20 comma-separated waits such as 5s, 500ms, 5m, 2h or 1d")
  }
  return Either.right(steps.map((step) => Number(step![1]) * units[step![2]!]!))
}

export const DefaultRetrySchedule = "5s,5m,30m,2h,5h,10h,10h"

export const WebhookDeliveryConfig = Config.all({
  retrySchedule: Config.string("WEBHOOK_RETRY_SCHEDULE").pipe(
    Config.withDefault(DefaultRetrySchedule),
    Config.mapOrFail((text) => Either.mapLeft(parseRetrySchedule(text), (message) => ConfigError.InvalidData([], message)))
  ),
  timeout: Config.duration("WEBHOOK_TIMEOUT").pipe(
    Config.validate({
      message: "Expected a duration from 100 millis to 60 seconds",
      validation: (d) => Duration.between(d, { minimum: Duration.millis(100), maximum: Duration.seconds(60) })
    }),
    Config.withDefault(Duration.seconds(15))
  ),
  concurrency: Config.integer("WEBHOOK_CONCURRENCY").pipe(
    Config.validate({ message: "Expected an integer from 1 to 256", validation: (n) => n >= 1 && n <= 256 }),
    Config.withDefault(16)
  )
})

/**
 * Sends webhook deliveries from the database, in every process: claims due deliveries (SKIP
 * LOCKED, with a lease of WEBHOOK_TIMEOUT + 5 s), POSTs each event's JSON signed per Standard
 * Webhooks, and records the outcome: a 2xx delivers; a 410 fails it and disables the endpoint;
 * anything else, or no answer within WEBHOOK_TIMEOUT, is retried after the next wait of
 * WEBHOOK_RETRY_SCHEDULE, and FAILED once the schedule runs out. A process killed mid-attempt
 * loses nothing: its claims are due again when their lease ends (at least once, so a receiver
 * dedupes by webhook-id). At most WEBHOOK_CONCURRENCY attempts run at once per process; it
 * claims again whenever one ends, when events are numbered, and every EVENTS_POLL_INTERVAL.
 * Redirects are not followed (a 3xx is a failed attempt), so a URL cannot bounce a delivery
 * to an address its check refused.
 */
export class WebhookDelivery extends Effect.Service<WebhookDelivery>()("WebhookDelivery", {
  scoped: Effect.gen(function*() {
    const config = yield* WebhookDeliveryConfig
    const { pollInterval } = yield* EventsConfig
    const webhooks = yield* WebhookRepository
    const feed = yield* EventFeed
    const signals = yield* EventSignals
    const timeoutMs = Duration.toMillis(config.timeout)
    const leaseMs = timeoutMs + 5_000

    const outcomeOf = (delivery: ClaimedDelivery, status: number | null, error: string | null): AttemptOutcome => {
      if (status !== null && status >= 200 && status < 300) return { _tag: "Delivered", responseStatus: status }
      if (status === 410) return { _tag: "Failed", responseStatus: status, error, disable: true }
      const wait = config.retrySchedule[delivery.attempt - 1]
      return wait === undefined
        ? { _tag: "Failed", responseStatus: status, error, disable: false }
        : { _tag: "Retry", responseStatus: status, error, afterMs: wait }
    }

    const send = (delivery: ClaimedDelivery, event: Event | undefined): Effect.Effect<AttemptOutcome> => {
      if (event === undefined) {
        return Effect.succeed({ _tag: "Failed", responseStatus: null, error: "The event was pruned (EVENTS_RETENTION)", disable: false })
      }
      const body = feed.json(event)
      const timestamp = Math.floor(Date.now() / 1000)
      return Effect.tryPromise({
        try: async () => {
          const response = await fetch(delivery.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "user-agent": "dino-wallet-webhooks",
              "webhook-id": delivery.eventId,
              "webhook-timestamp": String(timestamp),
              "webhook-signature": signature(delivery.secret, delivery.eventId, timestamp, body)
            },
            body,
            redirect: "manual",
            signal: AbortSignal.timeout(timeoutMs)
          })
          // The answer's body is not needed: dropped unread, so a large one costs nothing.
          await response.body?.cancel().catch(() => undefined)
          return response.status
        },
        catch: (error) => error instanceof Error && error.name === "TimeoutError" ? `No answer within ${timeoutMs} ms` : String(error)
      }).pipe(
        Effect.match({
          onFailure: (error) => outcomeOf(delivery, null, error),
          onSuccess: (status) => outcomeOf(delivery, status, null)
        })
      )
    }

    const scope = yield* Effect.scope
    const inFlight = yield* Ref.make(0)
    const kick = yield* Queue.sliding<void>(1)

    const attempt = (delivery: ClaimedDelivery, event: Event | undefined) =>
      send(delivery, event).pipe(
        Effect.flatMap((outcome) => webhooks.record(delivery, outcome)),
        Effect.catchAllCause((cause) => Effect.logWarning("Recording a webhook attempt failed; its lease will bring it back", cause)),
        Effect.ensuring(Effect.zipRight(Ref.update(inFlight, (n) => n - 1), Queue.offer(kick, undefined)))
      )

    /** Claims what the free slots can take, and starts each attempt in its own fiber. */
    const claimRound = Effect.gen(function*() {
      while (true) {
        const free = config.concurrency - (yield* Ref.get(inFlight))
        if (free <= 0) return
        const claimed = yield* webhooks.claim(free, leaseMs)
        if (claimed.length === 0) return
        yield* Ref.update(inFlight, (n) => n + claimed.length)
        const rows = new Map<string, EventRow>()
        for (const delivery of claimed) {
          if (delivery.event !== null) rows.set(delivery.eventId, { id: delivery.eventId, sequence: delivery.sequence, ...delivery.event })
        }
        const rendered = yield* feed.render(Array.from(rows.values())).pipe(
          Effect.onError(() => Ref.update(inFlight, (n) => n - claimed.length))
        )
        const events = new Map(rendered.map((event) => [event.id as string, event]))
        for (const delivery of claimed) yield* Effect.forkIn(attempt(delivery, events.get(delivery.eventId)), scope)
      }
    })

    yield* Effect.forkScoped(signals.onNumbered.pipe(
      Effect.flatMap((wait) => Effect.forever(Effect.zipRight(wait(Duration.infinity), Queue.offer(kick, undefined)))),
      Effect.scoped
    ))
    yield* Effect.forkScoped(
      claimRound.pipe(
        Effect.catchAllCause((cause) => Effect.logWarning("Claiming webhook deliveries failed; trying again later", cause)),
        Effect.zipRight(Queue.take(kick).pipe(Effect.timeoutOption(pollInterval))),
        Effect.forever
      )
    )
    return {} as const
  })
}) {}

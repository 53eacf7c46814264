import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import { ServiceUnavailable } from "../domain/Http.ts"

/** What a request refused by a draining gate is told. */
export const shuttingDownError = new ServiceUnavailable({
  status: "shutting_down",
  message: "The server is shutting down; retry on another instance"
})

/**
 * Counts requests in flight so that shutdown can wait for them: on SIGTERM new requests are
 * refused with 503 while those already admitted finish and commit.
 */
export class RequestGate extends Effect.Service<RequestGate>()("RequestGate", {
  effect: Effect.gen(function*() {
    const inFlight = yield* Ref.make(0)
    const draining = yield* Ref.make(false)

    const admit = <A, E, R, B>(request: Effect.Effect<A, E, R>, refused: Effect.Effect<B>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(Ref.get(draining), (isDraining): Effect.Effect<A | B, E, R> =>
          isDraining
            ? refused
            : Ref.update(inFlight, (n) => n + 1).pipe(
              Effect.zipRight(restore(request)),
              Effect.ensuring(Ref.update(inFlight, (n) => n - 1))
            ))
      )

    /** Waits at most `timeout` for the requests in flight; what is still running then is interrupted. */
    const drain = (timeout: Duration.DurationInput) =>
      Ref.set(draining, true).pipe(
        Effect.zipRight(
          Ref.get(inFlight).pipe(
            Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (n) => n === 0 }),
            Effect.timeoutOption(timeout)
          )
        ),
        Effect.zipLeft(
          Effect.flatMap(Ref.get(inFlight), (left) =>
            Effect.logInfo("Drained requests in flight").pipe(Effect.annotateLogs({ unfinished: left })))
        ),
        Effect.asVoid
      )

    /**
     * Fails while draining: the readiness probe says so even when it was admitted just before
     * the drain began (probes that pass the gate, such as liveness, are not refused by it).
     */
    const refuseWhileDraining = Effect.flatMap(
      Ref.get(draining),
      (isDraining) => isDraining ? Effect.fail(shuttingDownError) : Effect.void
    )

    return { admit, drain, refuseWhileDraining } as const
  })
}) {}

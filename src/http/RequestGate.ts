import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { ServiceUnavailable } from "../domain/Http.ts"

/** What a request refused by a draining gate is told. */
export const shuttingDownError = new ServiceUnavailable({
  status: "shutting_down",
  message: "The server is shutting down; retry on another instance"
})

/** What of Bun's server the end of a shutdown needs: to stop listening, and what it has not answered. */
interface Listener {
  readonly stop: (closeActiveConnections?: boolean) => unknown
  readonly pendingRequests: number
}

const isListener = (u: unknown): u is Listener =>
  typeof u === "object" && u !== null && "stop" in u && typeof u.stop === "function" &&
  "pendingRequests" in u && typeof u.pendingRequests === "number"

/**
 * Bun's server, as @effect/platform-bun 0.91 keeps it on each request it makes (`bunServer`).
 * The library neither exposes it nor stops listening before it removes the app's handler; see
 * stopListening.
 */
const listenerOf = (request: unknown): Option.Option<Listener> =>
  typeof request === "object" && request !== null && "bunServer" in request && isListener(request.bunServer)
    ? Option.some(request.bunServer)
    : Option.none()

/**
 * Counts requests in flight so that shutdown can wait for them: on SIGTERM new requests are
 * refused with 503 while those already admitted finish and commit.
 */
export class RequestGate extends Effect.Service<RequestGate>()("RequestGate", {
  effect: Effect.sync(() => {
    // Plain variables rather than Refs: every request reads and updates them, and each Ref
    // operation is one more step of its fiber for the same single-threaded update.
    let inFlight = 0
    let draining = false
    let listener = Option.none<Listener>()
    let lastArrivalMs = 0

    /**
     * Called for every request as it arrives: notes its time, and the server it came through
     * (for stopListening). Answers the time, in ms since 1970.
     */
    const observe = (request: unknown) =>
      Effect.sync(() => {
        lastArrivalMs = Date.now()
        if (Option.isNone(listener)) listener = listenerOf(request)
        return lastArrivalMs
      })

    const admit = <A, E, R, B>(request: Effect.Effect<A, E, R>, refused: Effect.Effect<B>) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.suspend((): Effect.Effect<A | B, E, R> => {
          if (draining) return refused
          inFlight++
          return Effect.ensuring(restore(request), Effect.sync(() => void inFlight--))
        })
      )

    /** Waits at most `timeout` for the requests in flight; what is still running then is interrupted. */
    const drain = (timeout: Duration.DurationInput) =>
      Effect.sync(() => void (draining = true)).pipe(
        Effect.zipRight(
          Effect.sync(() => inFlight).pipe(
            Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (n) => n === 0 }),
            // Shutdown runs this in a finalizer, which is uninterruptible: without this the wait
            // could not be interrupted when the timeout fires, and it never ended while a
            // request stayed in flight.
            Effect.interruptible,
            Effect.timeoutOption(timeout)
          )
        ),
        Effect.zipRight(
          Effect.suspend(() => Effect.logInfo("Drained requests in flight").pipe(Effect.annotateLogs({ unfinished: inFlight })))
        )
      )

    /**
     * Fails while draining: the readiness probe says so even when it was admitted just before
     * the drain began (probes that pass the gate, such as liveness, are not refused by it).
     */
    const refuseWhileDraining = Effect.suspend(() => draining ? Effect.fail(shuttingDownError) : Effect.void)

    /**
     * The end of a shutdown, after drain, at most `timeout` in all: once no request has arrived
     * for `quietMs` (clients and load balancers have moved on), close the listening socket, so
     * that new connections are refused by the kernel, then wait until the server has answered
     * every request it took, the drain's 503s included.
     *
     * Without this, @effect/platform-bun removed the app's handler and interrupted its fibers
     * while the socket still listened: a request taken then (a 503 being written, or a retry
     * that came in just after the drain) was never answered, and its connection was reset when
     * the process exited (seen in test/fault/sigterm.test.ts); one a moment later would have met
     * the library's fallback handler, a plain-text 404. The quiet wait is there because closing
     * a listening socket resets the connections still in its accept queue, and Bun's stop closes
     * connections whose request it has not read yet as idle: a client that keeps sending would
     * meet those resets. 500 ms is longer than a retrying client's backoff (so the wait lasts
     * while clients still come) and than the event loop lags on a busy machine (with 100 ms,
     * one run in three on a 2-core machine under full CPU load reset up to 16 unread connections).
     */
    const stopListening = (timeout: Duration.DurationInput, quietMs = 500) =>
      Effect.suspend(() => {
        if (Option.isNone(listener)) return Effect.void
        const server = listener.value
        const quiet = Effect.sync(() => Date.now() - lastArrivalMs >= quietMs)
        const answered = Effect.sync(() => server.pendingRequests === 0)
        return quiet.pipe(
          Effect.repeat({ schedule: Schedule.spaced("10 millis"), until: (isQuiet) => isQuiet }),
          Effect.zipRight(Effect.sync(() => server.stop(false))),
          Effect.zipRight(answered.pipe(Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (done) => done }))),
          // Interruptible inside the shutdown's finalizer, so that the timeout can end it (see drain).
          Effect.interruptible,
          Effect.timeoutOption(timeout),
          Effect.zipRight(Effect.sync(() => server.stop(false))),
          Effect.zipRight(Effect.logInfo("Stopped listening").pipe(Effect.annotateLogs({ unanswered: server.pendingRequests })))
        )
      })

    return { admit, drain, observe, refuseWhileDraining, stopListening } as const
  })
}) {}

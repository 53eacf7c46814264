import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"

/**
 * SHUTDOWN_TIMEOUT: how long the drains of a SIGTERM may take together (the workers', the
 * requests in flight, the listener's, the committer's). Orchestrators kill a process that has
 * not exited in time (Kubernetes after 30 s, Docker after 10 s): what runs past this, the
 * batch in flight ending and the embedded database stopping, must fit in what is left.
 */
export const ShutdownTimeout = Config.duration("SHUTDOWN_TIMEOUT").pipe(
  Config.validate({
    message: "Expected a duration from 1 second to 10 minutes",
    validation: (d) => Duration.between(d, { minimum: Duration.seconds(1), maximum: Duration.minutes(10) })
  }),
  Config.withDefault(Duration.seconds(18))
)

/** What the embedded PostgreSQL's fast shutdown is given in the worst case: it cuts sessions, checkpoints, exits. */
export const EmbeddedStopAllowance = Duration.seconds(2)

/**
 * The SIGTERM path's worst case, from the signal to the exit: the drains within SHUTDOWN_TIMEOUT,
 * then the writer's batch in flight, interrupted, ends within the query timeout (its connection
 * is closed if the database stays silent), the pool closes (nothing is in use any more), and the
 * embedded database stops.
 */
export const shutdownWorstCase = (shutdownTimeout: Duration.Duration, queryTimeoutMs: number) =>
  Duration.sum(Duration.sum(shutdownTimeout, Duration.millis(queryTimeoutMs)), EmbeddedStopAllowance)

/**
 * One deadline for every drain of a shutdown: it starts with the first drain to ask (the
 * SIGTERM), and each phase waits at most its own timeout and never past the deadline, so that
 * the timeouts of the phases can no longer add up past what an orchestrator allows.
 */
export class ShutdownBudget extends Effect.Service<ShutdownBudget>()("ShutdownBudget", {
  effect: Effect.gen(function*() {
    const timeout = yield* ShutdownTimeout
    let deadlineMs: number | undefined

    /** What is left of SHUTDOWN_TIMEOUT; the first call starts it. */
    const remaining = Effect.sync(() => {
      const nowMs = Date.now()
      deadlineMs ??= nowMs + Duration.toMillis(timeout)
      return Duration.millis(Math.max(0, deadlineMs - nowMs))
    })

    /** `limit`, cut to what is left of the budget. */
    const within = (limit: Duration.DurationInput) => Effect.map(remaining, (left) => Duration.min(Duration.decode(limit), left))

    return { remaining, within } as const
  })
}) {}

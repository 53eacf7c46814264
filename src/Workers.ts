import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import { ShutdownBudget } from "./Shutdown.ts"
import { DatabaseUrl } from "./Sql.ts"

/**
 * One service process runs its JavaScript on one core, and a read spends most of its CPU there
 * (the HTTP server, Effect's fibers, the schemas), so on a machine with more cores than
 * PostgreSQL keeps busy, WORKERS processes serve the same port: the kernel spreads the
 * connections between them (SO_REUSEPORT, Bun's `reusePort`; Linux only). Each process is a
 * whole service over the same database, with its own pool, group committer, read batching,
 * hold expiry and key table, all of which are safe across processes (test/committer).
 */
export const WorkersConfig = Config.integer("WORKERS").pipe(
  Config.validate({ message: "Expected an integer from 1 to 64", validation: (n) => n >= 1 && n <= 64 }),
  Config.withDefault(1)
)

/** Set in the environment of the processes the first one starts, so that they start none. */
const workerVariable = "DINO_WALLET_WORKER"

export const isWorkerProcess = () => process.env[workerVariable] === "1"

/**
 * One worker process for as long as the scope lasts: started over the first process's database
 * (the embedded one too, whose address is only known here), restarted a second or more after it
 * dies, and on shutdown sent SIGTERM and awaited (within SHUTDOWN_TIMEOUT), so that it drains
 * and commits before the database it writes to closes.
 */
const supervise = (index: number, databaseUrl: Redacted.Redacted, running: Set<Bun.Subprocess>, budget: ShutdownBudget) => {
  const run = Effect.acquireUseRelease(
    Effect.sync(() => {
      const child = Bun.spawn([process.execPath, "run", Bun.main], {
        env: { ...process.env, DATABASE_URL: Redacted.value(databaseUrl), [workerVariable]: "1" },
        stdio: ["ignore", "inherit", "inherit"]
      })
      running.add(child)
      return child
    }),
    (child) =>
      Effect.logInfo("Worker started").pipe(
        Effect.annotateLogs({ worker: index, pid: child.pid }),
        Effect.zipRight(Effect.promise(() => child.exited)),
        Effect.flatMap((code) =>
          Effect.logError("Worker exited; starting it again").pipe(Effect.annotateLogs({ worker: index, pid: child.pid, code }))
        )
      ),
    (child) =>
      Effect.suspend(() => {
        running.delete(child)
        if (child.exitCode !== null || child.signalCode !== null) return Effect.void
        if (!child.killed) child.kill("SIGTERM")
        // A worker drains within its own SHUTDOWN_TIMEOUT; this process waits no longer than its own.
        return budget.remaining.pipe(
          // Interruptible inside this release (uninterruptible), so that the timeout can end the wait.
          Effect.flatMap((left) => Effect.timeoutOption(Effect.interruptible(Effect.promise(() => child.exited)), left)),
          Effect.flatMap((exited) => exited._tag === "None" ? Effect.sync(() => child.kill("SIGKILL")) : Effect.void)
        )
      })
  )
  // A worker that cannot start (a bad setting fails it at once) is retried ever more slowly, not in a busy loop.
  return run.pipe(Effect.repeat(Schedule.exponential("1 second").pipe(Schedule.union(Schedule.spaced("30 seconds")))))
}

/**
 * A worker whose first process is gone (killed with SIGKILL, so that it could not stop its
 * workers) stops itself, as on SIGTERM, rather than serve on as an orphan nobody supervises.
 */
const stopWhenOrphaned = Effect.gen(function*() {
  const parent = process.ppid
  yield* Effect.sync(() => process.ppid).pipe(
    Effect.repeat({ schedule: Schedule.spaced("1 second"), until: (current) => current !== parent })
  )
  yield* Effect.logWarning("The first process is gone; this worker stops").pipe(Effect.annotateLogs({ parent }))
  yield* Effect.sync(() => process.kill(process.pid, "SIGTERM"))
})

/**
 * In the first process, with WORKERS > 1: the other WORKERS − 1 processes. Built once the
 * service is up (the database migrated, the first admin key made, the port bound), so that the
 * workers find everything ready, and released first on shutdown. In a worker: the watch on
 * the first process.
 */
export const WorkersLive = Layer.scopedDiscard(
  Effect.gen(function*() {
    if (isWorkerProcess()) return yield* Effect.asVoid(Effect.forkScoped(stopWhenOrphaned))
    const workers = yield* WorkersConfig
    if (workers === 1) return
    const databaseUrl = yield* DatabaseUrl
    const budget = yield* ShutdownBudget
    const running = new Set<Bun.Subprocess>()
    for (let index = 1; index < workers; index++) yield* Effect.forkScoped(supervise(index, databaseUrl, running, budget))
    // Added last, so run first on shutdown: every worker gets SIGTERM at once and they drain
    // together, instead of one after the other as their supervisors are stopped.
    yield* Effect.addFinalizer(() => Effect.sync(() => running.forEach((child) => child.kill("SIGTERM"))))
  })
)

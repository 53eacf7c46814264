import * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Config from "effect/Config"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as FiberId from "effect/FiberId"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Queue from "effect/Queue"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Tracer from "effect/Tracer"
import { ServiceUnavailable } from "../domain/Http.ts"
import { BulkItemsMax, Overloaded } from "../domain/Bulk.ts"
import type { Command, WriteRefusal, WriteResult } from "../domain/Write.ts"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { writeBatchSize, writeQueueDepth } from "../observability/Metrics.ts"
import { ShutdownBudget } from "../Shutdown.ts"
import { isUnavailable } from "../SqlFailure.ts"
import { EventSignals } from "./EventSignals.ts"
import { commitBatch } from "./WriteBatch.ts"

export const CommitterConfig = Config.all({
  batchMax: Config.integer("WRITE_BATCH_MAX").pipe(
    Config.validate({ message: "Expected an integer from 1 to 10000", validation: (n) => n >= 1 && n <= 10_000 }),
    Config.withDefault(500)
  ),
  queueMax: Config.integer("WRITE_QUEUE_MAX").pipe(
    Config.validate({
      message: `Expected an integer from ${BulkItemsMax} (one bulk request) to 1000000`,
      validation: (n) => n >= BulkItemsMax && n <= 1_000_000
    }),
    Config.withDefault(10_000)
  ),
  drainTimeout: Config.duration("WRITE_DRAIN_TIMEOUT").pipe(Config.withDefault("10 seconds"))
})

/** What a write can end with once queued: its own outcome, or the server going away under it. */
export type CommitError = WriteRefusal | ServiceUnavailable

interface Pending {
  readonly command: Command
  readonly answer: Deferred.Deferred<WriteResult, CommitError>
  /** The request's span as it was queued, for the batch span's links; none while tracing is off. */
  readonly span: Tracer.AnySpan | undefined
}

const linksOf = (batch: ReadonlyArray<Pending>): Array<Tracer.SpanLink> =>
  batch.flatMap((pending) => pending.span === undefined ? [] : [{ _tag: "SpanLink" as const, span: pending.span, attributes: {} }])

const shuttingDown = new ServiceUnavailable({
  status: "shutting_down",
  message: "The server is shutting down; retry on another instance with the same idempotency key"
})

/**
 * What the callers of a batch cut short by an interruption are told (the writer stopped at
 * shutdown, or the batch interrupted by whatever bounds it). Whether or not its COMMIT reached
 * the database, a retry with the same key applies the write at most once: a 503, never a 500.
 */
const interrupted = new ServiceUnavailable({
  status: "unavailable",
  message: "The write was interrupted before its answer; retry with the same idempotency key"
})

/** A database that cannot serve: splitting the batch would not help. */
const isWholeBatchFailure = (cause: Cause.Cause<unknown>) => Chunk.some(Cause.defects(cause), isUnavailable)

/**
 * Group commit: every write of the process goes through one writer fiber that commits what is
 * queued, up to WRITE_BATCH_MAX commands, as ONE database transaction. The treasury's row
 * lock, the round trips and the commit's flush are then paid once per batch instead of once
 * per request. There is no timed wait: a lone request is committed at once, and requests that
 * arrive while a batch commits form the next one.
 *
 * Each request waits on its own Deferred and gets its own outcome, only after the commit. A
 * serialization failure or deadlock runs the batch again (WriteBatch); any other failure
 * splits it and commits the halves, so a poison command ends alone with its error and the
 * rest commit. A database that cannot serve fails the whole batch at once (503, safe to retry).
 */
export class Committer extends Effect.Service<Committer>()("Committer", {
  scoped: Effect.gen(function*() {
    const config = yield* CommitterConfig
    const budget = yield* ShutdownBudget
    const services = yield* Effect.context<LedgerRepository | SqlClient.SqlClient>()
    const signals = yield* EventSignals
    const queue = yield* Queue.unbounded<Pending>()
    /** Commands admitted and not yet answered: the bound of the queue, and what shutdown waits for. */
    const outstanding = yield* Ref.make(0)
    const accepting = yield* Ref.make(true)

    const answer = (batch: ReadonlyArray<Pending>, exits: ReadonlyArray<Exit.Exit<WriteResult, WriteRefusal>>) =>
      Effect.forEach(batch, (pending, i) => Deferred.done(pending.answer, exits[i]!), { discard: true })

    const failAll = (batch: ReadonlyArray<Pending>, cause: Cause.Cause<CommitError>) =>
      Effect.forEach(batch, (pending) => Deferred.failCause(pending.answer, cause), { discard: true })

    const commit = (batch: Arr.NonEmptyReadonlyArray<Pending>): Effect.Effect<void> =>
      commitBatch(Arr.map(batch, (pending) => pending.command), linksOf(batch)).pipe(
        Effect.provide(services),
        Effect.flatMap((exits) => answer(batch, exits)),
        // After the answers: the sequencer numbers the batch's events outside its transaction.
        Effect.zipRight(signals.committed),
        Effect.catchAllCause((cause) => {
          // An interruption answered as such would reach the handler as an interrupted request,
          // which is neither an error of the contract nor a client gone away: a 500.
          if (Cause.isInterruptedOnly(cause)) return failAll(batch, Cause.fail(interrupted))
          if (batch.length === 1 || isWholeBatchFailure(cause)) return failAll(batch, cause)
          const [first, rest] = Arr.splitNonEmptyAt(batch, Math.ceil(batch.length / 2))
          return Effect.logWarning("A batch failed; committing its halves apart", cause).pipe(
            Effect.annotateLogs({ commands: batch.length }),
            Effect.zipRight(commit(first)),
            Effect.zipRight(Arr.isNonEmptyReadonlyArray(rest) ? commit(rest) : Effect.void)
          )
        }),
        // Whatever happened, nobody in this batch is left waiting.
        Effect.onExit(() => failAll(batch, Cause.fail(shuttingDown)))
      )

    const settled = (count: number) =>
      Ref.updateAndGet(outstanding, (n) => n - count).pipe(Effect.flatMap((n) => Metric.set(writeQueueDepth, n)))

    // takeBetween waits for at least one command, without a timer, and takes what else is there.
    const writer = Queue.takeBetween(queue, 1, config.batchMax).pipe(
      Effect.map(Chunk.toReadonlyArray),
      Effect.flatMap((batch) =>
        Arr.isNonEmptyReadonlyArray(batch)
          ? Metric.update(writeBatchSize, batch.length).pipe(
            Effect.zipRight(commit(batch)),
            Effect.ensuring(settled(batch.length))
          )
          : Effect.void
      ),
      Effect.forever,
      // commit answers every failure itself; this only guards against a bug in the loop, so
      // that the writer is never silently gone while requests wait.
      Effect.catchAllCause((cause) => Effect.logError("The write committer failed; restarting it", cause)),
      Effect.repeat(Schedule.spaced("10 millis"))
    )
    const writerFiber = yield* Effect.forkScoped(writer)

    /**
     * Queues commands for the writer, all or none: when they do not fit in WRITE_QUEUE_MAX
     * the request is refused (503 OVERLOADED) before anything is queued.
     */
    const enqueue = (commands: ReadonlyArray<Command>) =>
      Effect.uninterruptible(Effect.gen(function*() {
        if (!(yield* Ref.get(accepting))) return yield* shuttingDown
        const admitted = yield* Ref.modify(outstanding, (n) =>
          n + commands.length > config.queueMax ? [false, n] as const : [true, n + commands.length] as const)
        if (!admitted) return yield* Overloaded.instance
        yield* Metric.set(writeQueueDepth, yield* Ref.get(outstanding))
        // A no-op span (tracing off) is not sampled, and a link to it would lead nowhere.
        const span = Option.getOrUndefined(Option.filter(yield* Effect.serviceOption(Tracer.ParentSpan), (s) => s.sampled))
        const pending = commands.map((command): Pending => ({
          command,
          answer: Deferred.unsafeMake<WriteResult, CommitError>(FiberId.none),
          span
        }))
        yield* Queue.offerAll(queue, pending)
        return pending
      }))

    /** One command's outcome. */
    const submit = (command: Command) =>
      Effect.flatMap(enqueue([command]), ([pending]) => Deferred.await(pending!.answer))

    /** Each command's outcome, in order: they are independent, and may share a batch or not. */
    const submitAll = (commands: ReadonlyArray<Command>) =>
      Effect.flatMap(enqueue(commands), (pending) =>
        Effect.forEach(pending, (p) => Effect.exit(Deferred.await(p.answer))))

    /**
     * Shutdown: refuse new writes, let the writer commit what is queued and answer everyone,
     * then stop it; anything still queued after the drain timeout is answered 503.
     */
    yield* Effect.addFinalizer(() =>
      Effect.gen(function*() {
        yield* Ref.set(accepting, false)
        // At most WRITE_DRAIN_TIMEOUT, and within what is left of SHUTDOWN_TIMEOUT.
        const timeout = yield* budget.within(config.drainTimeout)
        yield* Ref.get(outstanding).pipe(
          Effect.repeat({ schedule: Schedule.spaced("5 millis"), until: (n) => n === 0 }),
          // A finalizer is uninterruptible: without this the timeout could not end the wait.
          Effect.interruptible,
          Effect.timeoutOption(timeout)
        )
        yield* Fiber.interrupt(writerFiber)
        const left = yield* Queue.takeAll(queue)
        yield* failAll(Chunk.toReadonlyArray(left), Cause.fail(shuttingDown))
      })
    )

    return { submit, submitAll } as const
  })
}) {}

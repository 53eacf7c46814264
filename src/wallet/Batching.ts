import * as Arr from "effect/Array"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberId from "effect/FiberId"
import * as Queue from "effect/Queue"
import type * as Scope from "effect/Scope"
import { isUnavailable } from "../SqlFailure.ts"

interface Waiting<I, O> {
  readonly input: I
  readonly answer: Deferred.Deferred<O>
}

export interface BatchingOptions {
  /** The most calls run together. 1: every call runs alone, as without batching. */
  readonly max: number
  /** Batches run at once, each on a connection of its own. */
  readonly workers: number
}

/**
 * Calls made by many fibers at once (one per HTTP request), run together: `run` gets the inputs
 * of a batch and returns one output per input, in order. Like the write committer, there is no
 * timed wait: a worker takes the first call waiting and whatever else is queued then, so a lone
 * call runs at once, and calls that arrive while every worker is busy form the next batches.
 * The batch size follows the load, and the statements, round trips and fiber work of a call to
 * the database are paid once per batch.
 *
 * (`@effect/experimental`'s dataLoader batches across fibers too, but after a fixed window,
 * which a lone read would wait out, and through Effect's request machinery, whose work per
 * call is what batching is here to save.)
 *
 * A batch that fails is run again one call at a time, so that one call's failure is its own;
 * a database that cannot serve fails the whole batch at once. Each call waits on its own
 * Deferred: a caller that is interrupted (its client went away) leaves the batch running.
 */
export const batching = <I, O>(
  run: (inputs: Arr.NonEmptyReadonlyArray<I>) => Effect.Effect<ReadonlyArray<O>>,
  options: BatchingOptions
): Effect.Effect<(input: I) => Effect.Effect<O>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Waiting<I, O>>()

    const runAlone = (waiting: Waiting<I, O>) =>
      Effect.exit(run([waiting.input])).pipe(
        Effect.flatMap((exit) => Deferred.done(waiting.answer, Exit.map(exit, (outputs) => outputs[0]!)))
      )

    const runTogether = (batch: Arr.NonEmptyReadonlyArray<Waiting<I, O>>) =>
      Effect.exit(run(Arr.map(batch, (waiting) => waiting.input))).pipe(
        Effect.flatMap((exit) => {
          if (Exit.isSuccess(exit)) {
            return Effect.forEach(batch, (waiting, i) => Deferred.succeed(waiting.answer, exit.value[i]!), {
              discard: true
            })
          }
          if (batch.length === 1 || Chunk.some(Cause.defects(exit.cause), isUnavailable)) {
            return Effect.forEach(batch, (waiting) => Deferred.failCause(waiting.answer, exit.cause), { discard: true })
          }
          return Effect.forEach(batch, runAlone, { discard: true })
        }),
        // Whatever ends the worker (shutdown interrupts it), nobody in its batch is left waiting.
        Effect.onExit(() => Effect.forEach(batch, (waiting) => Deferred.interrupt(waiting.answer), { discard: true }))
      )

    const worker = Queue.takeBetween(queue, 1, options.max).pipe(
      Effect.flatMap((taken) => {
        const batch = Chunk.toReadonlyArray(taken)
        return Arr.isNonEmptyReadonlyArray(batch) ? runTogether(batch) : Effect.void
      }),
      Effect.forever
    )
    yield* Effect.forkScoped(Effect.all(Arr.replicate(worker, options.workers), { concurrency: "unbounded" }))
    // Calls queued when the scope closes are answered too (interrupted), not left waiting.
    yield* Effect.addFinalizer(() =>
      Queue.takeAll(queue).pipe(
        Effect.flatMap(Effect.forEach((waiting) => Deferred.interrupt(waiting.answer), { discard: true }))
      )
    )

    return (input: I) =>
      Effect.suspend(() => {
        const answer = Deferred.unsafeMake<O>(FiberId.none)
        return Queue.offer(queue, { input, answer }).pipe(Effect.zipRight(Deferred.await(answer)))
      })
  })

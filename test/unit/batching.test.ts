import { expect, test } from "bun:test"
import type * as Arr from "effect/Array"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { batching } from "../../src/wallet/Batching.ts"

/** A batch function that records the batches it ran, and dies on a batch holding a negative number. */
const recording = () => {
  const batches: Array<ReadonlyArray<number>> = []
  const run = (inputs: Arr.NonEmptyReadonlyArray<number>) =>
    Effect.suspend(() => {
      batches.push(inputs)
      return inputs.some((n) => n < 0) ? Effect.die(new Error("negative")) : Effect.succeed(inputs.map((n) => n * 10))
    })
  return { batches, run }
}

test("a lone call runs at once, alone", async () => {
  const { batches, run } = recording()
  const result = await Effect.runPromise(Effect.scoped(Effect.flatMap(batching(run, { max: 10, workers: 1 }), (call) => call(4))))
  expect(result).toBe(40)
  expect(batches).toEqual([[4]])
})

/** The recording batch function, except that a batch starting with 0 waits for `release`: every later call queues behind it. */
const gatedRecording = () => {
  const { batches, run } = recording()
  const release = Effect.runSync(Deferred.make<void>())
  const gated = (inputs: Arr.NonEmptyReadonlyArray<number>) =>
    inputs[0] === 0 ? Effect.zipRight(Deferred.await(release), run(inputs)) : run(inputs)
  return { batches, gated, release }
}

test("calls made while the worker is busy share the next batch, each gets its own output, at most max at a time", async () => {
  const { batches, gated, release } = gatedRecording()
  const program = Effect.gen(function*() {
    const call = yield* batching(gated, { max: 4, workers: 1 })
    const first = yield* Effect.fork(call(0))
    yield* Effect.sleep("20 millis")
    const rest = yield* Effect.fork(Effect.forEach([1, 2, 3, 4, 5, 6], call, { concurrency: "unbounded" }))
    yield* Effect.sleep("20 millis")
    yield* Deferred.succeed(release, undefined)
    return [yield* first.await, yield* rest.await] as const
  })
  const [first, rest] = await Effect.runPromise(Effect.scoped(program))
  expect(first).toEqual(Exit.succeed(0))
  expect(rest).toEqual(Exit.succeed([10, 20, 30, 40, 50, 60]))
  expect(batches).toEqual([[0], [1, 2, 3, 4], [5, 6]])
})

test("a failing batch is run again one call at a time: only the failing call fails", async () => {
  const { batches, gated, release } = gatedRecording()
  const program = Effect.gen(function*() {
    const call = yield* batching(gated, { max: 10, workers: 1 })
    const first = yield* Effect.fork(call(0))
    yield* Effect.sleep("20 millis")
    const rest = yield* Effect.fork(Effect.forEach([1, -2, 3], (n) => Effect.exit(call(n)), { concurrency: "unbounded" }))
    yield* Effect.sleep("20 millis")
    yield* Deferred.succeed(release, undefined)
    yield* first.await
    return yield* rest.await
  })
  const rest = await Effect.runPromise(Effect.scoped(program))
  expect(Exit.isSuccess(rest)).toBe(true)
  const [one, minusTwo, three] = Exit.isSuccess(rest) ? rest.value : []
  expect(one).toEqual(Exit.succeed(10))
  expect(three).toEqual(Exit.succeed(30))
  expect(minusTwo !== undefined && Exit.isFailure(minusTwo)).toBe(true)
  expect(batches).toEqual([[0], [1, -2, 3], [1], [-2], [3]])
})

test("calls still queued when the scope closes are interrupted, not left waiting", async () => {
  const program = Effect.gen(function*() {
    const outcome = yield* Effect.scoped(Effect.gen(function*() {
      const call = yield* batching(() => Effect.never, { max: 10, workers: 1 })
      const busy = yield* Effect.fork(call(1))
      yield* Effect.sleep("20 millis")
      const queued = yield* Effect.fork(call(2))
      yield* Effect.sleep("20 millis")
      return { busy, queued }
    }))
    return [yield* outcome.busy.await, yield* outcome.queued.await] as const
  })
  const [busy, queued] = await Effect.runPromise(program.pipe(Effect.timeout("5 seconds")))
  expect(Exit.isInterrupted(busy)).toBe(true)
  expect(Exit.isInterrupted(queued)).toBe(true)
})

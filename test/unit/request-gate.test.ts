import { expect, test } from "bun:test"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { RequestGate } from "../../src/http/RequestGate.ts"

test("drain waits for admitted requests and refuses new ones meanwhile", async () => {
  const program = Effect.gen(function*() {
    const gate = yield* RequestGate
    const release = yield* Deferred.make<void>()
    // The pauses only let the forked fibers start; nothing here depends on how long they take.
    const inFlight = yield* Effect.fork(gate.admit(Effect.as(Deferred.await(release), "finished"), Effect.succeed("refused")))
    yield* Effect.sleep("20 millis")
    const draining = yield* Effect.fork(gate.drain("5 seconds"))
    yield* Effect.sleep("20 millis")
    const late = yield* gate.admit(Effect.succeed("served"), Effect.succeed("refused"))
    const drainedEarly = yield* Fiber.poll(draining)
    yield* Deferred.succeed(release, undefined)
    const first = yield* Fiber.join(inFlight)
    yield* Fiber.join(draining)
    return { late, drainedEarly: drainedEarly._tag === "Some", first }
  }).pipe(Effect.provide(RequestGate.Default))
  expect(await Effect.runPromise(program)).toEqual({ late: "refused", drainedEarly: false, first: "finished" })
})

test("drain gives up after its timeout", async () => {
  const program = Effect.gen(function*() {
    const gate = yield* RequestGate
    yield* Effect.fork(gate.admit(Effect.never, Effect.void))
    yield* Effect.sleep("20 millis")
    yield* gate.drain("50 millis")
    return "drained"
  }).pipe(Effect.provide(RequestGate.Default))
  expect(await Effect.runPromise(program)).toBe("drained")
})

test("stopListening waits for a quiet moment, stops the server, then waits for what it took", async () => {
  const server = { stopped: false, pendingRequests: 1, stop: () => void (server.stopped = true) }
  const program = Effect.gen(function*() {
    const gate = yield* RequestGate
    // The server as @effect/platform-bun's requests carry it.
    yield* gate.observe({ bunServer: server })
    const stopping = yield* Effect.fork(gate.stopListening("5 seconds", 100))
    yield* Effect.sleep("30 millis")
    const stoppedWhileBusy = server.stopped
    yield* Effect.sleep("150 millis")
    const stoppedWhenQuiet = server.stopped
    const doneWithOneUnanswered = (yield* Fiber.poll(stopping))._tag === "Some"
    server.pendingRequests = 0
    yield* Fiber.join(stopping)
    return { stoppedWhileBusy, stoppedWhenQuiet, doneWithOneUnanswered }
  }).pipe(Effect.provide(RequestGate.Default))
  expect(await Effect.runPromise(program)).toEqual({
    stoppedWhileBusy: false,
    stoppedWhenQuiet: true,
    doneWithOneUnanswered: false
  })
})

test("stopListening without a server seen does nothing", async () => {
  const program = Effect.flatMap(RequestGate, (gate) => Effect.as(gate.stopListening("1 second"), "done")).pipe(
    Effect.provide(RequestGate.Default)
  )
  expect(await Effect.runPromise(program)).toBe("done")
})

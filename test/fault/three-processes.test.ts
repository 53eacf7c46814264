import { expect, test } from "bun:test"
import { checkRun, faultLoad, faultWrites, freshDatabaseWithProcesses, openingBalances, workload } from "../support/FaultRun.ts"

/**
 * Three service processes on one database under the hot workload: one asset, two players, so
 * every write of every process locks the same treasury row and the processes' batches queue
 * on it. Clients are spread over the three and fail over to the next one after a failed try.
 * One process is SIGKILLed midway, its batches cut wherever they were; its clients move to the
 * survivors and their retries with the same keys must apply each write once.
 */

const fresh = freshDatabaseWithProcesses()

test("three processes, the hot workload, one SIGKILLed midway: every write applies exactly once", async () => {
  const databaseUrl = await fresh.databaseUrl()
  // One after the other: the first migrates the fresh database.
  const services = [await fresh.startProcess(), await fresh.startProcess(), await fresh.startProcess()] as const
  const [victim, ...survivors] = services
  const opening = await openingBalances(databaseUrl)
  // The clients are not told: the dead process stays in their list and refuses their connections.
  const targets = services.map((service) => service.baseUrl)

  const load = faultLoad(workload("three", faultWrites, ["GOLD_COINS"]), () => targets)
  await load.reached(Math.floor(faultWrites * 0.4))
  victim.child.kill("SIGKILL")
  expect(await victim.exited).toBe(null)

  const { results } = await checkRun("three processes, one SIGKILLed", databaseUrl, load, opening)
  // The victim was serving when it died, and the survivors finished its clients' writes.
  const finishedBy = new Map(survivors.map((s) => [s.baseUrl, 0]))
  for (const result of results) {
    const last = result.attempts.at(-1)!.baseUrl
    if (finishedBy.has(last)) finishedBy.set(last, finishedBy.get(last)! + 1)
  }
  expect(results.some((r) => r.attempts.some((a) => a.baseUrl === victim.baseUrl && a.outcome._tag === "Answered"))).toBe(true)
  expect([...finishedBy.values()].every((n) => n > 0)).toBe(true)
})

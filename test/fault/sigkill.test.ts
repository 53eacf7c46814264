import { expect, test } from "bun:test"
import { allAssets, checkRun, faultLoad, faultWrites, freshDatabaseWithProcesses, openingBalances, workload } from "../support/FaultRun.ts"

/**
 * The service is killed outright (SIGKILL: no drain, no finalizer, batches cut mid-transaction
 * or between COMMIT and the answer) while clients write, then started again on the same
 * database, on a new port that the clients follow. A write whose COMMIT landed before the kill
 * must be replayed with its first transaction; one cut before must apply once on the new process.
 */

const fresh = freshDatabaseWithProcesses()

test("SIGKILL under load, then a new process: every write applies exactly once", async () => {
  const databaseUrl = await fresh.databaseUrl()
  const first = await fresh.startProcess()
  const opening = await openingBalances(databaseUrl)
  let current = first.baseUrl

  const load = faultLoad(workload("sigkill", faultWrites, allAssets), () => [current])
  await load.reached(Math.floor(faultWrites * 0.4))
  first.child.kill("SIGKILL")
  expect(await first.exited).toBe(null)
  const second = await fresh.startProcess()
  current = second.baseUrl

  const { results } = await checkRun("SIGKILL and restart", databaseUrl, load, opening)
  // Writes were in flight when the process died, and finished on the new one.
  expect(results.some((r) => r.attempts.some((a) => a.baseUrl === first.baseUrl && a.outcome._tag === "NoAnswer"))).toBe(true)
  expect(results.some((r) => r.final !== undefined && r.attempts.at(-1)!.baseUrl === second.baseUrl)).toBe(true)
})

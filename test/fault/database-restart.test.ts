import { afterAll, expect, test } from "bun:test"
import { type DedicatedPostgres, startDedicatedPostgres } from "../support/DedicatedPostgres.ts"
import { allAssets, checkRun, faultLoad, faultWrites, openingBalances, workload } from "../support/FaultRun.ts"
import { type ServiceProcess, startServiceProcess } from "../support/ServiceProcess.ts"

/**
 * The database server itself restarts (fast shutdown, then a start on the same port and data)
 * twice while clients write, and the service keeps running through it: its pool must open new
 * connections once the server is back, without a restart of the service. Whatever was in
 * flight when the server went down is a 503 (or a broken connection) to the client, whose retry
 * with the same key applies the write once.
 */

const restarts = 2
/** Long enough for the clients to meet a server that is down, not only one that is going. */
const downMs = 1_000

let postgres: DedicatedPostgres | undefined
let service: ServiceProcess | undefined
afterAll(async () => {
  await service?.kill()
  await postgres?.dispose()
})

test("the database server restarted under load: the service recovers and every write applies exactly once", async () => {
  postgres = await startDedicatedPostgres()
  service = await startServiceProcess(postgres.url)
  const opening = await openingBalances(postgres.url)
  const baseUrl = service.baseUrl

  const load = faultLoad(workload("restart", faultWrites, allAssets), () => [baseUrl])
  for (let i = 1; i <= restarts; i++) {
    await load.reached(Math.floor(faultWrites * i / (restarts + 1)))
    await postgres.stop()
    await Bun.sleep(downMs)
    await postgres.start()
  }
  const { results } = await checkRun("database restarted", postgres.url, load, opening)
  // The faults were met: some tries failed while the server was away.
  expect(results.some((r) => r.attempts.length > 1)).toBe(true)
})

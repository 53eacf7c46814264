import { afterAll, beforeAll, expect, test } from "bun:test"
import pg from "pg"
import { exactlyOnceReport } from "../support/ExactlyOnce.ts"
import { allAssets, openingBalances, workload } from "../support/FaultRun.ts"
import { startLoad, type WriteResult } from "../support/RetryingClient.ts"
import { startService, type TestService } from "../support/TestService.ts"

/**
 * The check the fault suites rely on must itself fail when exactly-once breaks: after a clean
 * run, one acknowledged write is applied a second time and another is removed, straight in the
 * database (with triggers and foreign keys off for this session), and the check must name both.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

test("the exactly-once check names a duplicated and a lost write", async () => {
  const opening = await openingBalances(service.databaseUrl)
  const load = startLoad({ writes: workload("check", 20, allAssets), clients: 4, targets: () => [service.baseUrl] })
  const results = await load.done
  const clean = await exactlyOnceReport(service.databaseUrl, results, opening)
  expect(clean).toEqual({ lost: [], duplicated: [], unexpected: [], balanceMismatches: [] })

  const applied = results.filter((r): r is WriteResult & { final: { status: 201; body: { transactionId: string } } } =>
    r.final?.status === 201
  )
  const [twice, gone] = [applied[0]!, applied[1]!]
  const client = new pg.Client({ connectionString: service.databaseUrl })
  await client.connect()
  try {
    await client.query("SET session_replication_role = replica")
    await client.query(
      `INSERT INTO transactions (id, type, asset_code, amount, description)
       SELECT gen_random_uuid(), type, asset_code, amount, description FROM transactions WHERE id = $1`,
      [twice.final.body.transactionId]
    )
    await client.query("DELETE FROM ledger_entries WHERE transaction_id = $1", [gone.final.body.transactionId])
    await client.query("DELETE FROM transactions WHERE id = $1", [gone.final.body.transactionId])
  } finally {
    await client.end()
  }

  const broken = await exactlyOnceReport(service.databaseUrl, results, opening)
  expect(broken.duplicated.map((d) => d.key)).toEqual([twice.write.idempotencyKey])
  expect(broken.lost.map((l) => l.key)).toEqual([gone.write.idempotencyKey])
})

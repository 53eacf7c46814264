import { expect, test } from "bun:test"
import pg from "pg"
import { allAssets, checkRun, faultLoad, faultWrites, freshDatabaseWithProcesses, openingBalances, workload } from "../support/FaultRun.ts"

/**
 * PostgreSQL cuts the service's connections (pg_terminate_backend from an admin connection, as
 * an operator or a failover would) every 150 ms while clients write. A statement, a COMMIT or
 * its acknowledgement may be lost with its connection: the service must answer 503 and the
 * client's retry with the same key must apply the write once, or replay it if it committed.
 *
 * Every fourth beat, instead, the admin connection holds the treasury's wallets locked for
 * 700 ms, as a slow or locked-up database would: the service's batch waits, the clients give up
 * on their tries (FAULT_ATTEMPT_TIMEOUT_MS) and retry, and the batch then commits writes whose
 * clients never heard of it. Their retries must meet the stored outcomes (replays), not apply
 * them again: this is what makes a broken idempotency claim show as duplicates here.
 */

const beatMs = 150
const stallMs = 700

const fresh = freshDatabaseWithProcesses()

test("backends terminated under load: every write applies exactly once", async () => {
  const databaseUrl = await fresh.databaseUrl()
  const service = await fresh.startProcess()
  const opening = await openingBalances(databaseUrl)
  const baseUrl = service.baseUrl

  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  let terminated = 0
  let stalls = 0
  let loading = true
  try {
    const load = faultLoad(workload("terminate", faultWrites, allAssets), () => [baseUrl])
    void load.done.finally(() => (loading = false))
    for (let beat = 1; loading; beat++) {
      if (beat % 4 === 0) {
        await admin.query("BEGIN")
        await admin.query("SELECT id FROM wallets WHERE user_id = 1 ORDER BY id FOR UPDATE")
        await Bun.sleep(stallMs)
        await admin.query("COMMIT")
        stalls++
        continue
      }
      const killed = await admin.query<{ n: number }>(
        `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'dino-wallet' AND pid <> pg_backend_pid()`
      )
      terminated += killed.rows[0]!.n
      await Bun.sleep(beatMs)
    }
    const { figures } = await checkRun("backends terminated", databaseUrl, load, opening)
    console.log(`[fault] backends terminated: ${terminated} connections cut, ${stalls} stalls of ${stallMs} ms`)
    expect(terminated).toBeGreaterThan(0)
    expect(figures.retries).toBeGreaterThan(0)
  } finally {
    await admin.end()
  }
})

import pg from "pg"
import { checkOutBaseline } from "./baseline.ts"
import { measureWorkload, type Measurement } from "./measure.ts"
import { startService } from "./service.ts"
import { makeRequests, setUpPlayers } from "./variant.ts"
import { percentile } from "./workload.ts"

/**
 * The cost of a write as the ledger grows: `npm run bench:growth` starts one service over a
 * fresh database (BENCH_DATABASE_URL's server, or the embedded one), and at each ledger size of
 * GROWTH_ENTRIES (default 10,000, 100,000 and 1,000,000 entries) measures hot writes at 64
 * clients and bulk requests of 1,000 items for GROWTH_SECONDS each: requests and postings per
 * second, p50/p99, and the database's and the service's CPU per posting. Between sizes the
 * ledger grows in SQL (topups from the treasury, each transaction with its entries in one
 * statement, as the batch writes them, so the same checks run), and nothing is analyzed: on a
 * server with autovacuum off, plans see the tables as they were never measured. Figures, not
 * pass/fail: the figure at the largest size should stay within 20 % of the smallest's. With
 * GROWTH_REVISION=<git rev> the service is that revision instead of this checkout.
 */

const sizes = (process.env.GROWTH_ENTRIES ?? "10000,100000,1000000").split(",").map((part) => Number(part.trim()))
const seconds = Number(process.env.GROWTH_SECONDS ?? 10)
const bulkSize = 1_000
const players = 100
const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
/** Transactions per growth statement: a few seconds each, under no statement timeout of the service's. */
const growthChunk = 50_000

/** Adds topups until the ledger holds `entries` entries; each chunk is one statement and one transaction. */
const growTo = async (databaseUrl: string, entries: number) => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    for (;;) {
      const { rows } = await client.query<{ n: string }>("SELECT count(*) AS n FROM ledger_entries")
      const missing = Math.floor((entries - Number(rows[0]!.n)) / 2)
      if (missing <= 0) return
      const chunk = Math.min(missing, growthChunk)
      await client.query("BEGIN")
      // Every wallet of the bench's players, and the treasury's, locked as a batch would.
      await client.query(
        `CREATE TEMPORARY TABLE grown ON COMMIT DROP AS
         SELECT g AS n, gen_random_uuid() AS tx, w.id AS wallet_id, t.id AS treasury_id, w.asset_code, (1 + g % 7)::bigint AS amount
           FROM generate_series(1, $1::int) g
           JOIN LATERAL (SELECT id, asset_code FROM wallets
                          WHERE owner_kind = 'USER' AND id >= (SELECT min(id) FROM wallets WHERE owner_kind = 'USER') + g % $2::int
                          ORDER BY id LIMIT 1) w ON true
           JOIN wallets t ON t.user_id = 1 AND t.asset_code = w.asset_code`,
        [chunk, players * assets.length]
      )
      await client.query(
        `SELECT 1 FROM wallets WHERE id IN (SELECT wallet_id FROM grown UNION SELECT treasury_id FROM grown) ORDER BY id FOR UPDATE`
      )
      await client.query(
        `WITH inserted AS (
           INSERT INTO transactions (id, type, asset_code, amount, description)
           SELECT tx, 'TOPUP', asset_code, amount, 'ledger growth' FROM grown ORDER BY n
         )
         INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
         SELECT tx, wallet_id, asset_code, entry_type, amount, balance_after FROM (
           SELECT g.n, 0 AS side, g.tx, g.treasury_id AS wallet_id, g.asset_code, 'DEBIT' AS entry_type, g.amount,
                  w.balance - sum(g.amount) OVER (PARTITION BY g.treasury_id ORDER BY g.n) AS balance_after
             FROM grown g JOIN wallets w ON w.id = g.treasury_id
           UNION ALL
           SELECT g.n, 1, g.tx, g.wallet_id, g.asset_code, 'CREDIT', g.amount,
                  w.balance + sum(g.amount) OVER (PARTITION BY g.wallet_id ORDER BY g.n)
             FROM grown g JOIN wallets w ON w.id = g.wallet_id
         ) e ORDER BY n, side`
      )
      await client.query(
        `UPDATE wallets w SET balance = w.balance + moved.net
           FROM (SELECT wallet_id, sum(amount) AS net FROM grown GROUP BY wallet_id
                 UNION ALL SELECT treasury_id, -sum(amount) FROM grown GROUP BY treasury_id) moved
          WHERE w.id = moved.wallet_id`
      )
      await client.query("COMMIT")
    }
  } finally {
    await client.end()
  }
}

interface Row {
  readonly entries: number
  readonly workload: string
  readonly measured: Measurement
}

const perPosting = (ms: number | undefined, postings: number) =>
  ms === undefined || postings === 0 ? "?" : `${Math.round((ms * 1000) / postings)} µs`

const print = (row: Row) => {
  const { measured } = row
  const sorted = Float64Array.from(measured.latenciesMs).sort()
  console.log(
    `${String(row.entries).padStart(9)} entries  ${row.workload.padEnd(8)} ` +
      `${(measured.requests / measured.seconds).toFixed(0).padStart(6)} req/s ` +
      `${(measured.applied / measured.seconds).toFixed(0).padStart(7)} postings/s  ` +
      `p50 ${percentile(sorted, 50).toFixed(1)} ms  p99 ${percentile(sorted, 99).toFixed(1)} ms  ` +
      `database ${perPosting(measured.databaseCpuMs, measured.applied)}/posting  ` +
      `service ${perPosting(measured.serviceCpuMs, measured.applied)}/posting`
  )
}

const revision = process.env.GROWTH_REVISION?.trim() || undefined
const baseline = revision === undefined ? undefined : await checkOutBaseline(revision)
console.log(`Ledger growth of ${baseline === undefined ? "this checkout" : `${revision} (${baseline.commit})`}`)
const service = await startService({}, { checkout: baseline?.checkout })
try {
  const { userIds } = await setUpPlayers(service, players)
  const { write, bulk } = makeRequests(service)
  const player = (n: number) => userIds[n % userIds.length]!
  let next = 0
  const rows: Array<Row> = []
  for (const entries of sizes) {
    const started = performance.now()
    await growTo(service.databaseUrl, entries)
    console.log(`grown to ${entries} entries in ${((performance.now() - started) / 1000).toFixed(1)} s`)
    const hot = await measureWorkload(service, {
      name: "hot@64",
      concurrency: 64,
      seconds,
      maxRequests: 1_000_000,
      request: () => {
        const n = next++
        return write(n % 2 === 0 ? "topup" : "bonus", { userId: player(n), assetCode: assets[n % 3], amount: 1, idempotencyKey: `g${n}` })
      }
    })
    rows.push({ entries, workload: "hot@64", measured: hot })
    print(rows[rows.length - 1]!)
    const bulkRun = await measureWorkload(service, {
      name: "bulk@1",
      concurrency: 1,
      seconds,
      maxRequests: 1_000_000,
      request: () =>
        bulk(Array.from({ length: bulkSize }, () => {
          const n = next++
          return { type: "BONUS", userId: player(n), assetCode: assets[n % 3], amount: 1, idempotencyKey: `g${n}` }
        }))
    })
    rows.push({ entries, workload: "bulk@1", measured: bulkRun })
    print(rows[rows.length - 1]!)
  }
  console.log("\nlargest against smallest, postings per second:")
  for (const workload of ["hot@64", "bulk@1"]) {
    const measured = rows.filter((row) => row.workload === workload)
    const [first, last] = [measured[0]!, measured[measured.length - 1]!]
    const rate = (row: Row) => row.measured.applied / row.measured.seconds
    console.log(`  ${workload}: ${(rate(last) / rate(first)).toFixed(2)}x (${first.entries} -> ${last.entries} entries)`)
  }
} finally {
  await service.stop()
  await baseline?.remove()
}

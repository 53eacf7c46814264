import pg from "pg"
import { startService } from "./service.ts"
import { percentile } from "./workload.ts"

/**
 * Reads on a large ledger: `npm run bench:ledger` fills a fresh database with LEDGER_ENTRIES
 * ledger entries (default 1,000,000: topups from the treasury to LEDGER_PLAYERS players over
 * the last 30 days, each with an orderId in its metadata), then times the reconciliation,
 * balances at a past time and lookups by metadata through the service, and prints the query
 * plans' index use.
 */

const entries = Number(process.env.LEDGER_ENTRIES ?? 1_000_000)
const players = Number(process.env.LEDGER_PLAYERS ?? 20_000)
const transactions = Math.floor(entries / 2)

/**
 * Written straight in SQL, one transaction: every entry's balance_after is the running sum of
 * its wallet's amounts in entry order, the wallets end at their last entry, and the deferred
 * trigger checks every transaction at COMMIT as it does for the service's own writes.
 */
const generate = async (client: pg.Client) => {
  await client.query("BEGIN")
  await client.query(
    `INSERT INTO users (username, kind) SELECT 'player_' || g, 'USER' FROM generate_series(1, $1::int) g`,
    [players]
  )
  await client.query(
    `INSERT INTO wallets (user_id, owner_kind, asset_code)
     SELECT u.id, u.kind, a.code FROM users u CROSS JOIN assets a WHERE u.username LIKE 'player\\_%'`
  )
  await client.query(
    `CREATE TEMPORARY TABLE generated ON COMMIT DROP AS
     SELECT g AS n, gen_random_uuid() AS tx,
            (SELECT min(id) FROM users WHERE username LIKE 'player\\_%') + floor(random() * $2::int)::bigint AS user_id,
            (ARRAY['GOLD_COINS', 'DIAMONDS', 'LOYALTY_POINTS'])[1 + floor(random() * 3)::int] AS asset_code,
            (1 + floor(random() * 100))::bigint AS amount,
            now() - interval '30 days' + g * (interval '30 days' / $1::int) AS created_at
       FROM generate_series(1, $1::int) g`,
    [transactions, players]
  )
  await client.query(
    `INSERT INTO transactions (id, type, asset_code, amount, created_at, metadata)
     SELECT tx, 'TOPUP', asset_code, amount, created_at, jsonb_build_object('orderId', 'order-' || n, 'shop', 'web')
       FROM generated ORDER BY n`
  )
  await client.query(
    `INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after, created_at)
     SELECT tx, wallet_id, asset_code, entry_type, amount, balance_after, created_at FROM (
       SELECT g.n, 0 AS side, g.tx, w.id AS wallet_id, g.asset_code, 'DEBIT' AS entry_type, g.amount,
              w.balance - sum(g.amount) OVER (PARTITION BY g.asset_code ORDER BY g.n) AS balance_after, g.created_at
         FROM generated g JOIN wallets w ON w.user_id = 1 AND w.asset_code = g.asset_code
       UNION ALL
       SELECT g.n, 1, g.tx, w.id, g.asset_code, 'CREDIT', g.amount,
              w.balance + sum(g.amount) OVER (PARTITION BY g.user_id, g.asset_code ORDER BY g.n), g.created_at
         FROM generated g JOIN wallets w ON w.user_id = g.user_id AND w.asset_code = g.asset_code
     ) e ORDER BY n, side`
  )
  await client.query(
    `UPDATE wallets w SET balance = w.balance + moved.net
       FROM (SELECT e.wallet_id, sum(CASE e.entry_type WHEN 'CREDIT' THEN e.amount ELSE -e.amount END) AS net
               FROM ledger_entries e JOIN generated g ON g.tx = e.transaction_id GROUP BY e.wallet_id) moved
      WHERE w.id = moved.wallet_id`
  )
  await client.query("COMMIT")
  // As autovacuum would leave it: statistics current and the visibility map set.
  await client.query("VACUUM ANALYZE")
}

/** A GET through the service with the bench's admin key, timed. */
const get = async (path: string) => {
  const started = performance.now()
  const response = await fetch(`${service.baseUrl}${path}`, { headers: { authorization: `Bearer ${service.apiKey}` } })
  const body = (await response.json()) as Record<string, unknown>
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body)}`)
  return { ms: performance.now() - started, body }
}

const summary = (label: string, samples: Array<number>) => {
  const sorted = Float64Array.from(samples).sort()
  console.log(
    `${label.padEnd(44)} n=${String(samples.length).padStart(4)}  p50 ${percentile(sorted, 50).toFixed(1)} ms` +
      `  p99 ${percentile(sorted, 99).toFixed(1)} ms  max ${sorted[sorted.length - 1]!.toFixed(1)} ms`
  )
}

const plan = async (client: pg.Client, label: string, text: string, values: Array<unknown>) => {
  const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, values)
  console.log(`\n${label}:`)
  for (const row of rows) console.log(`  ${row["QUERY PLAN"]}`)
}

const service = await startService()
const client = new pg.Client({ connectionString: service.databaseUrl })
await client.connect()
try {
  const started = performance.now()
  await generate(client)
  const { rows: [size] } = await client.query<{ entries: string; bytes: string }>(
    `SELECT (SELECT count(*) FROM ledger_entries) AS entries, pg_total_relation_size('ledger_entries') AS bytes`
  )
  console.log(
    `generated ${Number(size!.entries).toLocaleString()} entries (${players.toLocaleString()} players) in ` +
      `${((performance.now() - started) / 1000).toFixed(1)} s; ledger_entries ${(Number(size!.bytes) / 2 ** 20).toFixed(0)} MiB`
  )

  const reconciliation: Array<number> = []
  for (let i = 0; i < 5; i++) {
    const { body, ms } = await get(`/api/reconciliation`)
    if (body.ok !== true) throw new Error(`reconciliation not ok: ${JSON.stringify(body).slice(0, 500)}`)
    reconciliation.push(ms)
  }
  summary("GET /api/reconciliation", reconciliation)

  const { rows: sample } = await client.query<{ id: number }>(
    `SELECT id FROM users WHERE username LIKE 'player\\_%' ORDER BY random() LIMIT 200`
  )
  const randomPast = () => new Date(Date.now() - Math.random() * 30 * 86_400_000).toISOString()
  const now: Array<number> = []
  const past: Array<number> = []
  const pastOne: Array<number> = []
  for (const { id } of sample) {
    now.push((await get(`/api/wallets/${id}/balance`)).ms)
    past.push((await get(`/api/wallets/${id}/balance?at=${randomPast()}`)).ms)
    pastOne.push(
      (await get(`/api/wallets/${id}/balance?assetCode=GOLD_COINS&at=${randomPast()}`)).ms
    )
  }
  const treasury: Array<number> = []
  for (let i = 0; i < 50; i++) {
    treasury.push((await get(`/api/wallets/1/balance?at=${randomPast()}`)).ms)
  }
  const byMetadata: Array<number> = []
  for (let i = 0; i < 200; i++) {
    const order = `order-${1 + Math.floor(Math.random() * transactions)}`
    const { body, ms } = await get(`/api/transactions?metadata[orderId]=${order}`)
    if ((body.items as Array<unknown>).length !== 1) throw new Error(`${order}: ${JSON.stringify(body).slice(0, 300)}`)
    byMetadata.push(ms)
  }
  summary("balance, every asset (today)", now)
  summary("balance?at, every asset (random past time)", past)
  summary("balance?at&assetCode (random past time)", pastOne)
  summary("treasury balance?at (its wallets hold half the entries)", treasury)
  summary("transactions?metadata[orderId]= (one match)", byMetadata)

  await plan(
    client,
    "balance?at of the treasury's GOLD_COINS wallet",
    `SELECT e.balance_after FROM ledger_entries e
      WHERE e.wallet_id = (SELECT id FROM wallets WHERE user_id = 1 AND asset_code = 'GOLD_COINS')
        AND e.created_at <= $1 ORDER BY e.created_at DESC, e.id DESC LIMIT 1`,
    [randomPast()]
  )
  await plan(
    client,
    "transactions?metadata[orderId]=…",
    `SELECT t.id FROM transactions t WHERE t.metadata @> $1::jsonb
      ORDER BY (extract(epoch FROM t.created_at) * 1000000)::bigint DESC, t.id DESC LIMIT 21`,
    [JSON.stringify({ orderId: `order-${Math.ceil(transactions / 2)}` })]
  )
} finally {
  await client.end()
  await service.stop()
}

import * as Schema from "effect/Schema"
import pg from "pg"
import { HistoryCursor } from "../src/domain/History.ts"
import { metricSum } from "./measure.ts"
import { startService } from "./service.ts"
import { percentile } from "./workload.ts"

/**
 * Reads on a large ledger: `npm run bench:ledger` fills a fresh database with LEDGER_ENTRIES
 * ledger entries (default 1,000,000: topups from the treasury to LEDGER_PLAYERS players over
 * the last 30 days, each with an orderId in its metadata), then times the reconciliation,
 * balances at a past time, lookups by metadata and history pages (first, by cursor, by asset;
 * of players and of the treasury, whose wallets hold half the entries) through the service, and
 * bursts of balance and history reads sent at once, with the reads per batched statement from
 * the service's metrics. Prints the query plans' index use, the batched history statement's
 * among them.
 */

const entries = Number(process.env.LEDGER_ENTRIES ?? 1_000_000)
const players = Number(process.env.LEDGER_PLAYERS ?? 20_000)
const transactions = Math.floor(entries / 2)
/** Each burst sends this many history reads and as many balance reads at once. */
const burstReads = 64
const bursts = 20
/** Reads in the EXPLAIN of the batched history statement: a batch as a busy service forms it. */
const planBatch = 32

/**
 * Written straight in SQL, one transaction: every entry's balance_after is the running sum of
 * its wallet's amounts in entry order, the wallets end at their last entry, and the entries'
 * statement trigger checks every transaction as it does for the service's own writes.
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
  // A transaction and its entries are written by one statement (migration 0016), as the service's batch does.
  await client.query(
    `WITH inserted AS (
       INSERT INTO transactions (id, type, asset_code, amount, created_at, metadata)
       SELECT tx, 'TOPUP', asset_code, amount, created_at, jsonb_build_object('orderId', 'order-' || n, 'shop', 'web')
         FROM generated ORDER BY n
     )
     INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after, created_at)
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

/** A user's history page through the service; `query` is the URL's query string. */
const history = (userId: number, query: string) => get(`/api/wallets/${userId}/transactions?${query}`)

const nextCursor = (body: Record<string, unknown>) => body.nextCursor as string | null

/**
 * The read batcher's histogram so far: statements run and the reads they answered, summed over
 * every label set (balance and history batches share the metric).
 */
const readBatches = async () => {
  const response = await fetch(`${service.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${service.apiKey}` } })
  const text = await response.text()
  return {
    statements: metricSum(text, "wallet_read_batch_size_count"),
    reads: metricSum(text, "wallet_read_batch_size_sum")
  }
}

/**
 * Whether every scan of `table` in a plan goes through `index`: a Seq Scan there would read the
 * whole ledger for a page, and grow with it.
 */
const readsByIndex = (planLines: ReadonlyArray<string>, table: string, index: string) => {
  const scans = planLines
    .filter((line) => line.includes(` on ${table} `))
    .map((line) => line.trim().replace(/^->\s*/, "").replace(/\s*\(actual.*$/, ""))
  console.log(
    scans.length > 0 && scans.every((scan) => scan.includes(` using ${index} `))
      ? `  => ${table} is read by ${index} only`
      : `  => FINDING: ${table} is not read by ${index} alone: ${scans.join("; ") || "no scan of it in the plan"}`
  )
}

/** Prints the plan and returns its lines, for checks on how each table is read. */
const plan = async (client: pg.Client, label: string, text: string, values: Array<unknown>) => {
  const { rows } = await client.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${text}`, values)
  console.log(`\n${label}:`)
  for (const row of rows) console.log(`  ${row["QUERY PLAN"]}`)
  return rows.map((row) => row["QUERY PLAN"])
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

  const firstPage: Array<number> = []
  const secondPage: Array<number> = []
  const goldPage: Array<number> = []
  for (const { id } of sample) {
    const first = await history(id, "limit=20")
    firstPage.push(first.ms)
    const cursor = nextCursor(first.body)
    if (cursor !== null) secondPage.push((await history(id, `limit=20&cursor=${cursor}`)).ms)
    goldPage.push((await history(id, "limit=20&assetCode=GOLD_COINS")).ms)
  }
  const treasuryFirst: Array<number> = []
  const treasuryGold: Array<number> = []
  for (let i = 0; i < 50; i++) {
    treasuryFirst.push((await history(1, "limit=20")).ms)
    treasuryGold.push((await history(1, "limit=20&assetCode=GOLD_COINS")).ms)
  }
  // Down from the top as a client pages, each page at the previous one's nextCursor.
  const treasuryPaged: Array<number> = []
  let treasuryCursor = nextCursor((await history(1, "limit=20")).body)
  for (let page = 2; page <= 51 && treasuryCursor !== null; page++) {
    const { ms, body } = await history(1, `limit=20&cursor=${treasuryCursor}`)
    treasuryPaged.push(ms)
    treasuryCursor = nextCursor(body)
  }
  // Every entry of the treasury's ends some page of its history, so its id, encoded as the
  // service encodes nextCursor, is a cursor a client could hold: at any depth of a history of
  // half the ledger, which paging 20 at a time would take thousands of requests to reach.
  const { rows: treasuryEntries } = await client.query<{ id: string }>(
    `SELECT e.id FROM ledger_entries e JOIN wallets w ON w.id = e.wallet_id WHERE w.user_id = 1 ORDER BY random() LIMIT 50`
  )
  const treasuryDeep: Array<number> = []
  const treasuryDeepGold: Array<number> = []
  for (const { id } of treasuryEntries) {
    const cursor = Schema.encodeSync(HistoryCursor)(Number(id))
    treasuryDeep.push((await history(1, `limit=20&cursor=${cursor}`)).ms)
    treasuryDeepGold.push((await history(1, `limit=20&assetCode=GOLD_COINS&cursor=${cursor}`)).ms)
  }
  summary("history, first page (limit=20)", firstPage)
  summary("history, second page at its nextCursor", secondPage)
  summary("history?assetCode=GOLD_COINS, first page", goldPage)
  summary("treasury history, first page", treasuryFirst)
  summary("treasury history, pages 2-51 by nextCursor", treasuryPaged)
  summary("treasury history at a random depth (cursor)", treasuryDeep)
  summary("treasury history?assetCode=GOLD_COINS, first page", treasuryGold)
  summary("treasury history?assetCode=GOLD_COINS at a random depth", treasuryDeepGold)

  const { rows: [firstPlayer] } = await client.query<{ id: string }>(
    `SELECT min(id) AS id FROM users WHERE username LIKE 'player\\_%'`
  )
  const randomPlayer = () => Number(firstPlayer!.id) + Math.floor(Math.random() * players)
  const burstMs: Array<number> = []
  const burstReadMs: Array<number> = []
  const batchesBefore = await readBatches()
  for (let i = 0; i < bursts; i++) {
    const started = performance.now()
    const answers = await Promise.all(
      Array.from({ length: burstReads }, () => [
        history(randomPlayer(), "limit=20"),
        get(`/api/wallets/${randomPlayer()}/balance`)
      ]).flat()
    )
    burstMs.push(performance.now() - started)
    for (const { ms } of answers) burstReadMs.push(ms)
  }
  const batchesAfter = await readBatches()
  const batchedReads = batchesAfter.reads - batchesBefore.reads
  const statements = batchesAfter.statements - batchesBefore.statements
  summary(`burst: ${burstReads} history + ${burstReads} balance reads at once`, burstMs)
  summary("  one read of a burst, sent to answered", burstReadMs)
  console.log(
    `  wallet_read_batch_size over the bursts: ${batchedReads} reads in ${statements} statements, ` +
      `${(batchedReads / statements).toFixed(1)} reads per statement`
  )

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

  const { rows: [treasuryMiddle] } = await client.query<{ id: string }>(
    `SELECT percentile_disc(0.5) WITHIN GROUP (ORDER BY e.id) AS id
       FROM ledger_entries e JOIN wallets w ON w.id = e.wallet_id WHERE w.user_id = 1`
  )
  // First pages of players (every fourth of Gold Coins only), and the treasury half-way down
  // its history: each read as the service passes it, limit 20 and no offset.
  const batch = [
    ...sample.slice(0, planBatch - 1).map(({ id }, i) => ({ userId: id, assetCode: i % 4 === 0 ? "GOLD_COINS" : null, cursor: null })),
    { userId: 1, assetCode: null, cursor: treasuryMiddle!.id }
  ]
  // historiesOf's statement (src/ledger/LedgerRepository.ts), copied, its arrays as $1..$5.
  const historyPlan = await plan(
    client,
    `historiesOf, a batch of ${batch.length} reads (the last the treasury's, at a cursor half-way down)`,
    `SELECT e.read::int AS "read", e.id, e.transaction_id AS "transactionId", t.type,
            e.asset_code AS "assetCode", e.entry_type AS "entryType", e.amount,
            e.balance_after AS "balanceAfter", t.description, t.metadata, t.created_by AS "createdBy",
            e.created_at AS "createdAt"
       FROM unnest($1::bigint[], $2::varchar[], $3::bigint[], $4::int[], $5::int[])
            WITH ORDINALITY AS r (user_id, asset_code, below, skip, size, read)
      CROSS JOIN LATERAL (
        SELECT r.read, page.* FROM wallets w
         CROSS JOIN LATERAL (
           SELECT * FROM ledger_entries e
            WHERE e.wallet_id = w.id AND e.id < coalesce(r.below, 9223372036854775807)
            ORDER BY e.id DESC
            LIMIT r.skip + r.size + 1
         ) page
         WHERE w.user_id = r.user_id AND (r.asset_code IS NULL OR w.asset_code = r.asset_code)
         ORDER BY page.id DESC
         LIMIT r.size + 1 OFFSET r.skip
      ) e
       JOIN transactions t ON t.id = e.transaction_id
      ORDER BY e.read, e.id DESC`,
    [
      batch.map((read) => read.userId),
      batch.map((read) => read.assetCode),
      batch.map((read) => read.cursor),
      batch.map(() => 0),
      batch.map(() => 20)
    ]
  )
  readsByIndex(historyPlan, "ledger_entries", "ledger_entries_wallet_id_idx")
  readsByIndex(historyPlan, "transactions", "transactions_pkey")
} finally {
  await client.end()
  await service.stop()
}

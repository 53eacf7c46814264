import { afterEach, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import pg from "pg"
import { DatabaseUrl, PgLive } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "../support/Database.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import {
  type HttpOutcome,
  post,
  postWrite,
  type ServiceProcess,
  startServiceProcess,
  type Write,
  type WriteType
} from "../support/ServiceProcess.ts"

/**
 * SIGTERM while the write queue is full. A test connection holds the treasury's GOLD_COINS row
 * lock, so the committer's first batch blocks on it and every later write waits in the queue:
 * 400 single writes and a 600-item bulk request fill WRITE_QUEUE_MAX (1000) exactly, and the
 * writes after them are refused as OVERLOADED. Then SIGTERM, then the lock is released. Every
 * queued write must be committed and answered 201, every refusal be a clean 503, the process
 * must exit 0, and the ledger must hold exactly the answered writes.
 */

const queueMax = 1_000
const singleCount = 400
const bulkCount = queueMax - singleCount
const overflowCount = 50
const lateCount = 20
const assetCode = "GOLD_COINS"
const openingGold: Record<number, number> = { 2: 1_000, 3: 500 }

interface ReceiptBody {
  readonly transactionId: string
  readonly type: WriteType
  readonly userId: number
  readonly amount: number
}
interface ErrorBody {
  readonly code: string
  readonly status?: string
}
interface BulkBody {
  readonly results: ReadonlyArray<{ readonly index: number; readonly status: number; readonly body: ReceiptBody }>
}

/** Small amounts, so that no spend can overdraw: every queued write must apply. */
const writeOf = (label: string, i: number): Write => ({
  type: (["TOPUP", "BONUS", "SPEND"] as const)[i % 3]!,
  userId: 2 + (i % 2),
  assetCode,
  amount: i % 3 === 2 ? 1 : 1 + (i % 5),
  idempotencyKey: `${label}-${i}`
})

/** Resolves with the promise's value, or with "still waiting" if it has not settled after `ms`. */
const within = <A>(promise: Promise<A>, ms: number) =>
  Promise.race([promise, Bun.sleep(ms).then(() => "still waiting" as const)])

const cleanups: Array<() => Promise<unknown>> = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined)
})

for (const batchMax of [500, 8]) {
  test(`SIGTERM with a full queue commits and answers every queued write (WRITE_BATCH_MAX=${batchMax})`, async () => {
    const database = ManagedRuntime.make(PgLive.pipe(Layer.provideMerge(FreshDatabaseLive)))
    cleanups.push(() => database.dispose())
    const databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
    const service: ServiceProcess = await startServiceProcess(databaseUrl, {
      WRITE_QUEUE_MAX: String(queueMax),
      WRITE_BATCH_MAX: String(batchMax),
      // The first batch waits on the test's lock for about two seconds; the default five-second
      // statement timeout would leave too little margin on a slow machine.
      DATABASE_STATEMENT_TIMEOUT_MS: "20000"
    })
    cleanups.push(() => service.kill())

    const blocker = new pg.Client({ connectionString: databaseUrl })
    await blocker.connect()
    cleanups.push(() => blocker.end())
    const transactionsBefore = (await blocker.query(`SELECT count(*)::int AS n FROM transactions`)).rows[0].n as number
    await blocker.query("BEGIN")
    await blocker.query(`SELECT id FROM wallets WHERE user_id = 1 AND asset_code = $1 FOR UPDATE`, [assetCode])
    let lockHeld = true
    cleanups.push(() => lockHeld ? blocker.query("ROLLBACK") : Promise.resolve())

    const label = `full-${batchMax}`
    const singles = Array.from({ length: singleCount }, (_, i) => writeOf(`${label}-single`, i))
    const singleAnswers = Promise.all(singles.map((write) => postWrite(service.baseUrl, write)))

    // The committer's first batch now waits for the treasury row; the rest pile up behind it.
    const lockWaitDeadline = Date.now() + 10_000
    while (true) {
      const waiting = await blocker.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity
          WHERE datname = current_database() AND application_name = 'dino-wallet' AND wait_event_type = 'Lock'`
      )
      if (waiting.rows[0].n > 0) break
      if (Date.now() > lockWaitDeadline) throw new Error("The committer never waited for the treasury lock")
      await Bun.sleep(20)
    }
    await Bun.sleep(1_000)

    const bulk = Array.from({ length: bulkCount }, (_, i) => writeOf(`${label}-bulk`, i))
    const bulkAnswer = post(service.baseUrl, "/api/wallets/batch", { items: bulk })
    await Bun.sleep(500)

    // The queue holds 1000 commands: these are refused at once, not queued.
    const overflow = Array.from({ length: overflowCount }, (_, i) => writeOf(`${label}-overflow`, i))
    const overflowAnswers = await within(Promise.all(overflow.map((write) => postWrite(service.baseUrl, write))), 5_000)

    service.child.kill("SIGTERM")
    await Bun.sleep(300)
    const late = Array.from({ length: lateCount }, (_, i) => writeOf(`${label}-late`, i))
    const lateAnswers = await within(Promise.all(late.map((write) => postWrite(service.baseUrl, write))), 5_000)

    // Nothing could commit while the lock was held: every queued write was still waiting.
    expect(await within(singleAnswers, 0)).toBe("still waiting")
    expect(await within(bulkAnswer, 0)).toBe("still waiting")

    await blocker.query("ROLLBACK")
    lockHeld = false

    const singleOutcomes = await singleAnswers
    const bulkOutcome = await bulkAnswer
    expect(await within(service.exited, 30_000)).toBe(0)

    // Refused writes were answered while the queue was still blocked, each a clean 503.
    expect(overflowAnswers).not.toBe("still waiting")
    expect(lateAnswers).not.toBe("still waiting")
    for (const outcome of overflowAnswers as ReadonlyArray<HttpOutcome>) {
      expect(outcome._tag).toBe("Answered")
      if (outcome._tag !== "Answered") continue
      expect(outcome.status).toBe(503)
      expect((outcome.body as ErrorBody).code).toBe("OVERLOADED")
    }
    for (const outcome of lateAnswers as ReadonlyArray<HttpOutcome>) {
      // The listener may already be closed; a request it never accepted was never admitted.
      if (outcome._tag === "NoAnswer") {
        expect(outcome.reason).toBe("ECONNREFUSED")
        continue
      }
      expect(outcome.status).toBe(503)
      expect(outcome.body as ErrorBody).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "shutting_down" })
    }

    // Every queued write was committed and answered.
    const receipts: Array<ReceiptBody> = []
    for (const outcome of singleOutcomes) {
      expect(outcome._tag === "Answered" ? outcome.status : outcome.reason).toBe(201)
      if (outcome._tag === "Answered") receipts.push(outcome.body as ReceiptBody)
    }
    expect(bulkOutcome._tag === "Answered" ? bulkOutcome.status : bulkOutcome.reason).toBe(200)
    const bulkResults = bulkOutcome._tag === "Answered" ? (bulkOutcome.body as BulkBody).results : []
    expect(bulkResults.length).toBe(bulkCount)
    for (const result of bulkResults) {
      expect(result.status).toBe(201)
      receipts.push(result.body)
    }
    expect(receipts.length).toBe(queueMax)

    const check = new pg.Client({ connectionString: databaseUrl })
    await check.connect()
    try {
      const transactionsAfter = (await check.query(`SELECT count(*)::int AS n FROM transactions`)).rows[0].n
      expect(transactionsAfter - transactionsBefore).toBe(receipts.length)
      const receiptIds = receipts.map((receipt) => receipt.transactionId)
      expect(new Set(receiptIds).size).toBe(receipts.length)
      const written = await check.query(`SELECT count(*)::int AS n FROM transactions WHERE id = ANY($1::uuid[])`, [receiptIds])
      expect(written.rows[0].n).toBe(receipts.length)

      // Refused writes left no trace under their keys.
      const records = await check.query(
        `SELECT split_part(key, '-', 3) AS part, outcome, count(*)::int AS n
           FROM idempotency_records WHERE key LIKE $1 GROUP BY 1, 2 ORDER BY 1, 2`,
        [`${label}-%`]
      )
      expect(records.rows).toEqual([
        { part: "bulk", outcome: "APPLIED", n: bulkCount },
        { part: "single", outcome: "APPLIED", n: singleCount }
      ])

      const balances = await check.query(
        `SELECT user_id::int AS user_id, balance::int AS balance FROM wallets
          WHERE asset_code = $1 AND user_id IN (2, 3) ORDER BY user_id`,
        [assetCode]
      )
      const expected = [2, 3].map((userId) => ({
        user_id: userId,
        balance: receipts.filter((r) => r.userId === userId).reduce(
          (balance, r) => r.type === "SPEND" ? balance - r.amount : balance + r.amount,
          openingGold[userId]!
        )
      }))
      expect(balances.rows).toEqual(expected)
    } finally {
      await check.end()
    }
    expect(await database.runPromise(ledgerViolations)).toEqual(noViolations)

    // Every 503 tells the client when to come back (checked last, so that a missing header does
    // not hide what the ledger says).
    const refusals = [...overflowAnswers as ReadonlyArray<HttpOutcome>, ...lateAnswers as ReadonlyArray<HttpOutcome>]
    const withoutRetryAfter = refusals.flatMap((outcome) =>
      outcome._tag === "Answered" && outcome.headers["retry-after"] === undefined ? [(outcome.body as ErrorBody).code] : []
    )
    expect(withoutRetryAfter).toEqual([])
  })
}

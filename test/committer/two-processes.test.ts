import { afterAll, expect, test } from "bun:test"
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
import { seededRandom } from "../support/SeededRandom.ts"

/**
 * Two service processes on one database, each with its own group committer, under one
 * concurrent load: topups, bonuses and overdrawing spends over four players and all three
 * assets, and a good share of the keys sent to both processes at the same moment with the same
 * body. Only the wallet row locks order the two processes' batches, so without them their
 * balance updates would overwrite each other. Afterwards the ledger must balance, every key
 * must have applied at most once, and the balances must be the opening ones plus what the
 * 201 receipts say was applied.
 */

const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
const requestCount = 900
const waveSize = 150
/** Small batches: more transactions per second from each process, so more chances to interleave. */
const batchMax = 8

interface Receipt {
  readonly transactionId: string
  readonly type: WriteType
  readonly userId: number
  readonly assetCode: string
  readonly amount: number
}

const database = ManagedRuntime.make(PgLive.pipe(Layer.provideMerge(FreshDatabaseLive)))
const services: Array<ServiceProcess> = []
afterAll(async () => {
  await Promise.all(services.map((service) => service.kill()))
  await database.dispose()
})

test("two processes on one database: invariants hold and every key applies once", async () => {
  const databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
  const env = { WRITE_BATCH_MAX: String(batchMax) }
  // One after the other: the first migrates the fresh database. (Two starting at once on a fresh
  // database can race in the migrator's CREATE TABLE IF NOT EXISTS; that is start-up, not the
  // load this suite is about.)
  services.push(await startServiceProcess(databaseUrl, env))
  services.push(await startServiceProcess(databaseUrl, env))
  const [first, second] = services as [ServiceProcess, ServiceProcess]

  const newUsers = await Promise.all(
    ["rex", "mia"].map((username, i) =>
      post((i === 0 ? first : second).baseUrl, "/api/users", { username: `${username}_${Date.now().toString(36)}` })
    )
  )
  const userIds = [2, 3]
  for (const outcome of newUsers) {
    expect(outcome._tag === "Answered" ? outcome.status : outcome.reason).toBe(201)
    if (outcome._tag === "Answered") userIds.push((outcome.body as { userId: number }).userId)
  }

  const check = new pg.Client({ connectionString: databaseUrl })
  await check.connect()
  try {
    const balancesNow = async () =>
      new Map<string, number>(
        (await check.query(
          `SELECT user_id::int AS user_id, asset_code, balance::text AS balance FROM wallets WHERE user_id = ANY($1::bigint[])`,
          [userIds]
        )).rows.map((row) => [`${row.user_id}/${row.asset_code}`, Number(row.balance)])
      )
    const opening = await balancesNow()
    const transactionsBefore = (await check.query(`SELECT count(*)::int AS n FROM transactions`)).rows[0].n as number

    const seed = Date.now() % 1_000_000
    const random = seededRandom(seed)
    const pick = <A>(values: ReadonlyArray<A>) => values[Math.floor(random() * values.length)]!
    const writes = Array.from({ length: requestCount }, (_, i): { write: Write; to: "first" | "second" | "both" } => {
      const type = pick<WriteType>(["TOPUP", "BONUS", "SPEND", "SPEND"])
      return {
        write: {
          type,
          userId: pick(userIds),
          assetCode: pick(assets),
          // Spends up to 300 overdraw the new players and, now and then, the seeded ones.
          amount: 1 + Math.floor(random() * (type === "SPEND" ? 300 : 150)),
          idempotencyKey: `two-${seed}-${i}`
        },
        to: random() < 0.4 ? "both" : random() < 0.5 ? "first" : "second"
      }
    })

    const send = (service: ServiceProcess, write: Write) => postWrite(service.baseUrl, write).then((outcome) => ({ write, outcome }))

    const answers: Array<{ readonly write: Write; readonly outcome: HttpOutcome }> = []
    for (let start = 0; start < writes.length; start += waveSize) {
      const wave = writes.slice(start, start + waveSize).flatMap(({ to, write }) =>
        to === "both" ? [send(first, write), send(second, write)] : [send(to === "first" ? first : second, write)]
      )
      answers.push(...await Promise.all(wave))
    }

    // Every request has its final answer: applied, or refused for want of funds.
    const unexpected = answers.filter(({ outcome }) => outcome._tag !== "Answered" || ![201, 409].includes(outcome.status))
    expect(unexpected.map(({ outcome, write }) => ({ key: write.idempotencyKey, outcome }))).toEqual([])
    const insufficient = answers.filter(({ outcome }) => outcome._tag === "Answered" && outcome.status === 409)
    expect(insufficient.length).toBeGreaterThan(0)

    // One key, one outcome: a key's answers are all 201 with one transaction id, or all 409.
    interface KeyAnswers {
      readonly statuses: Set<number>
      readonly transactionIds: Set<string>
      receipt?: Receipt
    }
    const byKey = new Map<string, KeyAnswers>()
    for (const { outcome, write } of answers) {
      if (outcome._tag !== "Answered") continue
      const entry = byKey.get(write.idempotencyKey) ?? { statuses: new Set(), transactionIds: new Set() }
      entry.statuses.add(outcome.status)
      if (outcome.status === 201) {
        entry.receipt = outcome.body as Receipt
        entry.transactionIds.add(entry.receipt.transactionId)
      }
      byKey.set(write.idempotencyKey, entry)
    }
    const split = Array.from(byKey).filter(([, entry]) => entry.statuses.size !== 1 || entry.transactionIds.size > 1)
    expect(split.map(([key, entry]) => ({ key, statuses: [...entry.statuses], ids: [...entry.transactionIds] }))).toEqual([])
    const applied = Array.from(byKey.values()).filter((entry) => entry.statuses.has(201))

    // Exactly one transaction per applied key, and none for a refused one.
    const transactionsAfter = (await check.query(`SELECT count(*)::int AS n FROM transactions`)).rows[0].n as number
    expect(transactionsAfter - transactionsBefore).toBe(applied.length)
    const records = await check.query(
      `SELECT r.key, r.outcome, r.transaction_id::text AS transaction_id, t.id IS NOT NULL AS written
         FROM idempotency_records r LEFT JOIN transactions t ON t.id = r.transaction_id
        WHERE r.key LIKE $1`,
      [`two-${seed}-%`]
    )
    const recordByKey = new Map(records.rows.map((row) => [row.key as string, row]))
    expect(recordByKey.size).toBe(byKey.size)
    const mismatched = Array.from(byKey).filter(([key, entry]) => {
      const record = recordByKey.get(key)
      return entry.statuses.has(201)
        ? record?.outcome !== "APPLIED" || !record.written || record.transaction_id !== [...entry.transactionIds][0]
        : record?.outcome !== "INSUFFICIENT_FUNDS" || record.transaction_id !== null
    })
    expect(mismatched.map(([key]) => ({ key, record: recordByKey.get(key) }))).toEqual([])

    // The ledger balances, and each balance is its opening plus what the receipts applied.
    expect(await database.runPromise(ledgerViolations)).toEqual(noViolations)
    const expected = new Map(opening)
    for (const { receipt } of applied) {
      const account = `${receipt!.userId}/${receipt!.assetCode}`
      expected.set(account, expected.get(account)! + (receipt!.type === "SPEND" ? -receipt!.amount : receipt!.amount))
    }
    expect(await balancesNow()).toEqual(expected)
  } finally {
    await check.end()
  }
})

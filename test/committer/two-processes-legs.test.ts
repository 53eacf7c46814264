import { afterAll, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import pg from "pg"
import { DatabaseUrl, PgLive } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "../support/Database.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { type HttpOutcome, post, type ServiceProcess, startServiceProcess } from "../support/ServiceProcess.ts"
import { seededRandom } from "../support/SeededRandom.ts"

/**
 * Two service processes on one database, each with its own group committer, under transfers
 * between four players in both directions and multi-leg transactions that also touch the
 * treasury, a good share of the keys sent to both processes at once. Two batches locking the
 * same wallets in different orders would deadlock, and without the row locks their balance
 * updates would overwrite each other: only the ascending-id SELECT ... FOR UPDATE prevents
 * both. Afterwards the ledger must balance, every key must have one outcome, and the balances
 * must be the opening ones plus what the 201 receipts applied.
 */

const requestCount = 600
const waveSize = 150
const batchMax = 8

interface Leg {
  readonly fromUserId: number
  readonly toUserId: number
  readonly assetCode: string
  readonly amount: number
}

interface Sent {
  readonly key: string
  readonly path: "/api/wallets/transfer" | "/api/transactions"
  readonly body: Record<string, unknown>
  readonly legs: ReadonlyArray<Leg>
}

const database = ManagedRuntime.make(PgLive.pipe(Layer.provideMerge(FreshDatabaseLive)))
const services: Array<ServiceProcess> = []
afterAll(async () => {
  await Promise.all(services.map((service) => service.kill()))
  await database.dispose()
})

test("two processes, transfers both ways and multi-leg transactions: no deadlock, invariants hold, every key applies once", async () => {
  const databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
  const env = { WRITE_BATCH_MAX: String(batchMax) }
  // One after the other: the first migrates the fresh database.
  services.push(await startServiceProcess(databaseUrl, env))
  services.push(await startServiceProcess(databaseUrl, env))
  const [first, second] = services as [ServiceProcess, ServiceProcess]

  const userIds = [2, 3]
  for (const name of ["ada", "bo"]) {
    const created = await post(first.baseUrl, "/api/users", { username: `${name}_${Date.now().toString(36)}` })
    expect(created._tag === "Answered" ? created.status : created.reason).toBe(201)
    if (created._tag === "Answered") userIds.push((created.body as { userId: number }).userId)
  }
  for (const [i, userId] of userIds.slice(2).entries()) {
    const funded = await post(first.baseUrl, "/api/wallets/topup", { userId, assetCode: "GOLD_COINS", amount: 400, idempotencyKey: `fund-${i}` })
    expect(funded._tag === "Answered" && funded.status).toBe(201)
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

    const seed = Date.now() % 1_000_000
    const random = seededRandom(seed)
    const pick = <A>(values: ReadonlyArray<A>) => values[Math.floor(random() * values.length)]!
    const pair = (withTreasury: boolean) => {
      const parties = withTreasury ? [1, ...userIds] : userIds
      const from = pick(parties)
      return { from, to: pick(parties.filter((p) => p !== from)) }
    }
    const plan = Array.from({ length: requestCount }, (_, i): { sent: Sent; to: "first" | "second" | "both" } => {
      const key = `legs-${seed}-${i}`
      let sent: Sent
      if (random() < 0.5) {
        const { from, to } = pair(false)
        const leg = { fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 1 + Math.floor(random() * 120) }
        sent = { key, path: "/api/wallets/transfer", body: { ...leg, idempotencyKey: key }, legs: [leg] }
      } else {
        const legs = Array.from({ length: 1 + Math.floor(random() * 3) }, (): Leg => {
          const { from, to } = pair(true)
          return { fromUserId: from, toUserId: to, assetCode: pick(["GOLD_COINS", "DIAMONDS"]), amount: 1 + Math.floor(random() * 60) }
        })
        sent = { key, path: "/api/transactions", body: { legs, idempotencyKey: key }, legs }
      }
      return { sent, to: random() < 0.4 ? "both" : random() < 0.5 ? "first" : "second" }
    })

    const send = (service: ServiceProcess, sent: Sent) => post(service.baseUrl, sent.path, sent.body).then((outcome) => ({ sent, outcome }))
    const answers: Array<{ readonly sent: Sent; readonly outcome: HttpOutcome }> = []
    for (let start = 0; start < plan.length; start += waveSize) {
      const wave = plan.slice(start, start + waveSize).flatMap(({ sent, to }) =>
        to === "both" ? [send(first, sent), send(second, sent)] : [send(to === "first" ? first : second, sent)]
      )
      answers.push(...await Promise.all(wave))
    }

    // Every request has its final answer: applied, or refused for want of funds. A deadlock or a
    // lost update would show as a 500 or 503 here, or as a broken invariant below.
    const unexpected = answers.filter(({ outcome }) => outcome._tag !== "Answered" || ![201, 409].includes(outcome.status))
    expect(unexpected.map(({ outcome, sent }) => ({ key: sent.key, outcome }))).toEqual([])
    expect(answers.some(({ outcome }) => outcome._tag === "Answered" && outcome.status === 409)).toBe(true)

    // One key, one outcome, and one transaction per applied key.
    const byKey = new Map<string, { readonly sent: Sent; readonly statuses: Set<number>; readonly transactionIds: Set<string> }>()
    for (const { outcome, sent } of answers) {
      if (outcome._tag !== "Answered") continue
      const entry = byKey.get(sent.key) ?? { sent, statuses: new Set(), transactionIds: new Set() }
      entry.statuses.add(outcome.status)
      if (outcome.status === 201) entry.transactionIds.add((outcome.body as { transactionId: string }).transactionId)
      byKey.set(sent.key, entry)
    }
    const split = Array.from(byKey.values()).filter((entry) => entry.statuses.size !== 1 || entry.transactionIds.size > 1)
    expect(split.map((entry) => entry.sent.key)).toEqual([])
    const applied = Array.from(byKey.values()).filter((entry) => entry.statuses.has(201))
    const written = await check.query(`SELECT count(*)::int AS n FROM idempotency_records WHERE key LIKE $1 AND outcome = 'APPLIED'`, [
      `legs-${seed}-%`
    ])
    expect(written.rows[0].n).toBe(applied.length)

    // The ledger balances, and each balance is its opening plus the applied legs.
    expect(await database.runPromise(ledgerViolations)).toEqual(noViolations)
    const expected = new Map(opening)
    for (const { sent } of applied) {
      for (const leg of sent.legs) {
        const from = `${leg.fromUserId}/${leg.assetCode}`, to = `${leg.toUserId}/${leg.assetCode}`
        if (expected.has(from)) expected.set(from, expected.get(from)! - leg.amount)
        if (expected.has(to)) expected.set(to, expected.get(to)! + leg.amount)
      }
    }
    expect(await balancesNow()).toEqual(expected)
  } finally {
    await check.end()
  }
})

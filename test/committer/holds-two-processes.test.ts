import { afterAll, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import pg from "pg"
import { DatabaseUrl, PgLive } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "../support/Database.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { type HttpOutcome, post, type ServiceProcess, startServiceProcess } from "../support/ServiceProcess.ts"

/**
 * Two service processes on one database, both running the hold expiry worker every 100 ms, and
 * short holds whose captures and voids are sent to both processes right about when they expire.
 * Each hold must be settled exactly once (captured, voided or expired), by one transaction, and
 * the ledger must balance with the escrow holding nothing at the end.
 */

const holdCount = 40

const database = ManagedRuntime.make(PgLive.pipe(Layer.provideMerge(FreshDatabaseLive)))
const services: Array<ServiceProcess> = []
afterAll(async () => {
  await Promise.all(services.map((service) => service.kill()))
  await database.dispose()
})

const answered = (outcome: HttpOutcome) => outcome._tag === "Answered" ? outcome.status : outcome.reason

test("two processes expiring, capturing and voiding the same holds settle each once", async () => {
  const databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
  const env = { HOLD_EXPIRY_INTERVAL: "100 millis", WRITE_BATCH_MAX: "8" }
  // One after the other: the first migrates the fresh database.
  services.push(await startServiceProcess(databaseUrl, env))
  services.push(await startServiceProcess(databaseUrl, env))
  const [first, second] = services as [ServiceProcess, ServiceProcess]
  const run = Date.now().toString(36)

  const holds = await Promise.all(Array.from({ length: holdCount }, (_, i) =>
    post((i % 2 === 0 ? first : second).baseUrl, "/api/holds", {
      userId: 2 + (i % 2),
      assetCode: "GOLD_COINS",
      amount: 1 + i,
      expiresInSeconds: 1,
      idempotencyKey: `two-holds-${run}-${i}`
    })))
  expect(holds.map(answered)).toEqual(Array.from({ length: holdCount }, () => 201))
  const holdIds = holds.map((outcome) => outcome._tag === "Answered" ? (outcome.body as { holdId: string }).holdId : "")

  // About when they expire, a capture of every third hold and a void of every other third, each
  // sent to both processes under one key, race the two workers.
  await Bun.sleep(950)
  const settling = await Promise.all(holdIds.flatMap((holdId, i) => {
    if (i % 3 === 2) return []
    const path = `/api/holds/${holdId}/${i % 3 === 0 ? "capture" : "void"}`
    const body = { idempotencyKey: `two-settle-${run}-${i}` }
    return [post(first.baseUrl, path, body), post(second.baseUrl, path, body)]
  }))
  for (const outcome of settling) expect([200, 201, 409].map(String)).toContain(String(answered(outcome)))

  const check = new pg.Client({ connectionString: databaseUrl })
  await check.connect()
  try {
    const deadline = Date.now() + 6_000
    let held = holdCount
    while (held > 0 && Date.now() < deadline) {
      held = (await check.query(`SELECT count(*)::int AS n FROM holds WHERE status = 'HELD'`)).rows[0].n as number
      if (held > 0) await Bun.sleep(100)
    }
    expect(held).toBe(0)
    // One settlement per hold: its transaction, and no other CAPTURE or RELEASE.
    const settlements = await check.query(
      `SELECT h.status, t.type FROM holds h JOIN transactions t ON t.id = h.settlement_transaction_id`
    )
    expect(settlements.rows.length).toBe(holdCount)
    const written = (await check.query(`SELECT count(*)::int AS n FROM transactions WHERE type IN ('CAPTURE', 'RELEASE')`)).rows[0].n
    expect(written).toBe(holdCount)
    for (const row of settlements.rows) expect(row.type).toBe(row.status === "CAPTURED" ? "CAPTURE" : "RELEASE")
    expect(settlements.rows.some((row) => row.status === "EXPIRED")).toBe(true)
    const escrow = await check.query(
      `SELECT coalesce(sum(w.balance), 0)::int AS held FROM wallets w JOIN users u ON u.id = w.user_id WHERE u.username = '$escrow'`
    )
    expect(escrow.rows[0].held).toBe(0)
    expect(await database.runPromise(ledgerViolations)).toEqual(noViolations)
  } finally {
    await check.end()
  }
})

import { afterAll, beforeAll, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import pg from "pg"
import { DatabaseUrl } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "../support/Database.ts"
import { post, type ServiceProcess, startServiceProcess } from "../support/ServiceProcess.ts"

/**
 * SHUTDOWN_TIMEOUT bounds the SIGTERM path whatever the phases' own timeouts: a write is stuck
 * in the committer (a test connection holds the treasury's row lock, and the statement timeout
 * is two minutes), the drains' own timeouts are a minute each, so that the phases alone would
 * take minutes; with SHUTDOWN_TIMEOUT=2 seconds the process must still exit 0 within the bound
 * (generous: well under any phase's own timeout), and the stuck write must not be committed.
 */

const database = ManagedRuntime.make(Layer.fresh(FreshDatabaseLive))
let databaseUrl: string
let service: ServiceProcess | undefined
beforeAll(async () => {
  databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
})
afterAll(async () => {
  await service?.kill()
  await database.dispose()
})

/** Far below the phases' own timeouts (60 s each) and the stuck statement's (120 s). */
const exitBoundMs = 30_000

test("SIGTERM with a write stuck in the committer exits within SHUTDOWN_TIMEOUT, not the phases' own timeouts", async () => {
  service = await startServiceProcess(databaseUrl, {
    SHUTDOWN_TIMEOUT: "2 seconds",
    SHUTDOWN_DRAIN_TIMEOUT: "60 seconds",
    WRITE_DRAIN_TIMEOUT: "60 seconds",
    DATABASE_STATEMENT_TIMEOUT_MS: "120000"
  })
  const admin = new pg.Client({ connectionString: databaseUrl })
  await admin.connect()
  try {
    await admin.query("BEGIN")
    await admin.query("SELECT id FROM wallets WHERE user_id = 1 AND asset_code = 'GOLD_COINS' FOR UPDATE")
    const stuck = post(service.baseUrl, "/api/wallets/topup", {
      userId: 2,
      assetCode: "GOLD_COINS",
      amount: 5,
      idempotencyKey: "budget-stuck",
      description: "budget-stuck"
    }, { timeoutMs: 120_000 })
    for (let attempt = 0;; attempt++) {
      const waiting = await admin.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
      )
      if (waiting.rows[0]!.n > 0) break
      if (attempt > 300) throw new Error("the write never waited on the treasury's lock")
      await Bun.sleep(20)
    }
    const signalledAt = Date.now()
    service.child.kill("SIGTERM")
    const exit = await Promise.race([service.exited, Bun.sleep(exitBoundMs).then(() => "still running" as const)])
    const tookMs = Date.now() - signalledAt
    console.log(`[shutdown] SIGTERM to exit with SHUTDOWN_TIMEOUT=2 seconds and a stuck write: ${tookMs} ms`)
    expect(exit).toBe(0)
    // Answered 503 if the answer could still be written, else its connection was closed: never a 201.
    const answer = await stuck
    expect(answer._tag === "Answered" ? answer.status : "no answer").not.toBe(201)
  } finally {
    await admin.query("ROLLBACK").catch(() => undefined)
    await admin.end()
  }
  const check = new pg.Client({ connectionString: databaseUrl })
  await check.connect()
  try {
    const written = await check.query<{ n: number }>("SELECT count(*)::int AS n FROM transactions WHERE description = 'budget-stuck'")
    expect(written.rows[0]!.n).toBe(0)
  } finally {
    await check.end()
  }
}, 120_000)

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { startService, type TestService } from "../support/TestService.ts"

/**
 * The cost of a posting must not grow with the ledger (migration 0016): every check a write's
 * statement sets off reads the growing tables by key, never by a scan. On a fresh database the
 * tables are a page or two and never analyzed, so a planner left to itself scans them (the
 * cheapest plan at that size) and keeps that plan in the connection as they grow: exactly the
 * plans this test must never see. It writes postings as the batch statement does, in one
 * transaction, and reads that transaction's own scan counters (pg_stat_xact_user_tables), which
 * count the checks' queries too, less the scans the same statement makes with every trigger off.
 * Not timed: it counts scans.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

/** The tables that grow with the ledger. */
const growing = ["transactions", "ledger_entries", "wallets", "users", "idempotency_records", "holds"]

/** One batch statement: `postings` topups from the treasury to player 2 with their keys' outcomes. */
const writeBatch = (sql: SqlClient.SqlClient, postings: number) =>
  Effect.gen(function*() {
    const run = `plan-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    yield* sql`
      INSERT INTO idempotency_records (key, fingerprint)
      SELECT ${run} || '-' || g, repeat('0', 64) FROM generate_series(1, ${postings}::int) g`
    yield* sql`
      WITH generated AS (
        SELECT g, gen_random_uuid() AS id FROM generate_series(1, ${postings}::int) g
      ), inserted AS (
        INSERT INTO transactions (id, type, asset_code, amount) SELECT id, 'TOPUP', 'DIAMONDS', 1 FROM generated
      ), entries AS (
        INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
        SELECT g.id, w.id, 'DIAMONDS', CASE w.user_id WHEN 1 THEN 'DEBIT' ELSE 'CREDIT' END, 1,
               w.balance + CASE w.user_id WHEN 1 THEN -g.g ELSE g.g END
          FROM generated g CROSS JOIN wallets w WHERE w.user_id IN (1, 2) AND w.asset_code = 'DIAMONDS'
      ), balances AS (
        UPDATE wallets SET balance = balance + CASE user_id WHEN 1 THEN -${postings}::int ELSE ${postings}::int END
         WHERE user_id IN (1, 2) AND asset_code = 'DIAMONDS'
      )
      UPDATE idempotency_records r SET outcome = 'APPLIED', response_body = '{}', transaction_id = g.id
        FROM generated g WHERE r.key = ${run} || '-' || g.g`
  })

class RolledBack {
  readonly _tag = "RolledBack"
  constructor(readonly scans: Record<string, number>) {}
}

/**
 * The sequential scans of each growing table that one batch of `postings` made, in a
 * transaction rolled back afterwards; with `checks` false the batch runs with every trigger off
 * (session_replication_role = replica), so that what the statement itself scans can be taken away.
 */
const scans = (postings: number, checks: boolean) =>
  service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.withTransaction(Effect.gen(function*() {
      yield* sql`SET LOCAL statement_timeout = 120000`
      if (!checks) yield* sql`SET LOCAL session_replication_role = replica`
      const counters = sql<{ relname: string; seqScan: number }>`
        SELECT relname, seq_scan AS "seqScan" FROM pg_stat_xact_user_tables WHERE relname IN ${sql.in(growing)}`.withoutTransform
      const before = new Map((yield* counters).map((row) => [row.relname, Number(row.seqScan)]))
      yield* writeBatch(sql, postings)
      // This transaction's own counters, read afresh.
      yield* sql`SELECT pg_stat_clear_snapshot()`
      const after = yield* counters
      return yield* Effect.fail(new RolledBack(Object.fromEntries(
        growing.map((table) => [table, Number(after.find((row) => row.relname === table)?.seqScan ?? 0) - (before.get(table) ?? 0)])
      )))
    })).pipe(Effect.flip, Effect.map((rolledBack) => (rolledBack as RolledBack).scans))
  ))

/** What the checks of one batch scanned: its scans with the triggers on, less its scans without them. */
const scansOfChecks = async (postings: number) => {
  const withChecks = await scans(postings, true)
  const alone = await scans(postings, false)
  return Object.fromEntries(growing.map((table) => [table, withChecks[table]! - alone[table]!]))
}

describe("the checks of a write read the ledger by key", () => {
  test("a batch of postings, and another once the ledger has grown, scans none of the growing tables", async () => {
    const none = Object.fromEntries(growing.map((table) => [table, 0]))
    expect(await scansOfChecks(50)).toEqual(none)
    // The ledger grows by a few thousand postings; the plans made while it was small stay cached.
    await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql.withTransaction(Effect.zipRight(sql`SET LOCAL statement_timeout = 120000`, writeBatch(sql, 5_000)))))
    expect(await scansOfChecks(50)).toEqual(none)
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { startService, type TestService } from "../support/TestService.ts"

/**
 * The database's own guard rails, tried directly in SQL as a buggy writer (or a hurried
 * operator) would: each statement must be refused, whatever the service does.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

/** The SQLSTATE a statement (in its own transaction) fails with, or "ok". */
const attempt = (statements: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
  service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql.withTransaction(statements(sql)).pipe(
        Effect.as("ok"),
        Effect.catchAllCause((cause) => {
          const text = JSON.stringify(cause, (_, v) => typeof v === "bigint" ? String(v) : v)
          return Effect.succeed(/"code":"([0-9A-Z]{5})"/.exec(text)?.[1] ?? text)
        })
      ))
  )

describe("the ledger's constraints", () => {
  test("a user wallet cannot go negative", async () => {
    expect(await attempt((sql) => sql`UPDATE wallets SET balance = -1 WHERE user_id = 2 AND asset_code = 'GOLD_COINS'`)).toBe("23514")
  })

  test("the treasury can, down to -(2^53 - 1) only", async () => {
    expect(await attempt((sql) => sql`UPDATE wallets SET balance = -9007199254740991 WHERE user_id = 1 AND asset_code = 'GOLD_COINS'`)).toBe("ok")
    expect(await attempt((sql) => sql`UPDATE wallets SET balance = -9007199254740992 WHERE user_id = 1 AND asset_code = 'GOLD_COINS'`)).toBe("23514")
  })

  test("a wallet cannot claim its owner is a system account", async () => {
    expect(await attempt((sql) => sql`UPDATE wallets SET owner_kind = 'SYSTEM' WHERE user_id = 2 AND asset_code = 'GOLD_COINS'`)).toBe("23503")
  })

  test("a transaction with one entry, or two of one kind, does not commit", async () => {
    const single = await attempt((sql) =>
      sql`WITH t AS (INSERT INTO transactions (type, asset_code, amount) VALUES ('BONUS', 'GOLD_COINS', 5) RETURNING id)
          INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
          SELECT t.id, w.id, 'GOLD_COINS', 'CREDIT', 5, 5 FROM t, wallets w WHERE w.user_id = 2 AND w.asset_code = 'GOLD_COINS'`
    )
    expect(single).toBe("23514")
    const twoCredits = await attempt((sql) =>
      sql`WITH t AS (INSERT INTO transactions (type, asset_code, amount) VALUES ('BONUS', 'GOLD_COINS', 5) RETURNING id)
          INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
          SELECT t.id, w.id, 'GOLD_COINS', 'CREDIT', 5, 5 FROM t, wallets w WHERE w.asset_code = 'GOLD_COINS' AND w.user_id IN (1, 2)`
    )
    expect(twoCredits).toBe("23505")
  })

  // Since the multi-leg migration (0011) an entry names its transaction alone, and the
  // deferred balance check refuses an entry off its transaction's asset or amount at COMMIT.
  test("an entry's amount and asset must be its transaction's", async () => {
    const wrongAmount = await attempt((sql) =>
      sql`WITH t AS (INSERT INTO transactions (type, asset_code, amount) VALUES ('BONUS', 'GOLD_COINS', 5) RETURNING id)
          INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
          SELECT t.id, w.id, 'GOLD_COINS', CASE w.user_id WHEN 1 THEN 'DEBIT' ELSE 'CREDIT' END, 6, 0
            FROM t, wallets w WHERE w.asset_code = 'GOLD_COINS' AND w.user_id IN (1, 2)`
    )
    expect(wrongAmount).toBe("23514")
    const wrongAsset = await attempt((sql) =>
      sql`WITH t AS (INSERT INTO transactions (type, asset_code, amount) VALUES ('BONUS', 'GOLD_COINS', 5) RETURNING id)
          INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
          SELECT t.id, w.id, 'GOLD_COINS', CASE w.user_id WHEN 1 THEN 'DEBIT' ELSE 'CREDIT' END, 5, 0
            FROM t, wallets w WHERE w.asset_code = 'DIAMONDS' AND w.user_id IN (1, 2)`
    )
    expect(wrongAsset).toBe("23503")
  })

  test("amounts are positive", async () => {
    expect(await attempt((sql) => sql`INSERT INTO transactions (type, asset_code, amount) VALUES ('BONUS', 'GOLD_COINS', 0)`)).toBe("23514")
  })

  test("the ledger is append-only", async () => {
    expect(await attempt((sql) => sql`UPDATE ledger_entries SET amount = amount + 1`)).toBe("42501")
    expect(await attempt((sql) => sql`DELETE FROM transactions`)).toBe("42501")
  })
})

/**
 * The account rules of migration 0015, tried in SQL as a writer that bypasses the service would:
 * every posting the API refuses as SYSTEM_ACCOUNT is refused by the database too, and the
 * escrow's wallet cannot drift from the holds in force.
 */
describe("system accounts in SQL", () => {
  /**
   * One leg of `type` from `debitUser` to `creditUser`, 5 LOYALTY_POINTS (the suites above spend
   * the treasury's GOLD_COINS). The wallets' balances are left as they are, so that only the
   * account rules can refuse it: a move of the escrow's balance meets the escrow's own check
   * (the last test).
   */
  const leg = (type: string, debitUser: string, creditUser: string, asset: "single" | "multi" = "single") => (sql: SqlClient.SqlClient) =>
    sql.unsafe(`
      WITH d AS (SELECT w.id FROM wallets w JOIN users u ON u.id = w.user_id WHERE ${debitUser} AND w.asset_code = 'LOYALTY_POINTS'),
           c AS (SELECT w.id FROM wallets w JOIN users u ON u.id = w.user_id WHERE ${creditUser} AND w.asset_code = 'LOYALTY_POINTS'),
           t AS (INSERT INTO transactions (type, asset_code, amount)
                 VALUES ('${type}', ${asset === "single" ? "'LOYALTY_POINTS', 5" : "NULL, NULL"}) RETURNING id)
      INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
      SELECT t.id, d.id, 'LOYALTY_POINTS', 'DEBIT', 5, 0 FROM t, d
      UNION ALL SELECT t.id, c.id, 'LOYALTY_POINTS', 'CREDIT', 5, 0 FROM t, c`)
  const treasury = "u.role = 'TREASURY'", escrow = "u.role = 'ESCROW'", player = "u.id = 2"

  test("the treasury issues to a player: allowed (so the refusals below are the rules, not the statement)", async () => {
    expect(await attempt(leg("BONUS", treasury, player))).toBe("ok")
  })

  test("the escrow in a multi-leg leg, a transfer or a topup is refused, either side", async () => {
    await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`
      INSERT INTO wallets (user_id, owner_kind, asset_code)
      SELECT id, 'SYSTEM', 'LOYALTY_POINTS' FROM users WHERE role = 'ESCROW' ON CONFLICT DO NOTHING`))
    expect(await attempt(leg("TRANSACTION", escrow, player, "multi"))).toBe("23514")
    expect(await attempt(leg("TRANSACTION", player, escrow, "multi"))).toBe("23514")
    expect(await attempt(leg("TRANSFER", escrow, player))).toBe("23514")
    expect(await attempt(leg("TOPUP", treasury, escrow))).toBe("23514")
  })

  test("the treasury as the wrong side of its own operations, or in a transfer, is refused", async () => {
    expect(await attempt(leg("SPEND", treasury, player))).toBe("23514")
    expect(await attempt(leg("TRANSFER", treasury, player))).toBe("23514")
    expect(await attempt(leg("HOLD", player, treasury))).toBe("23514")
  })

  test("a system account added without rules of its own is a side of nothing", async () => {
    expect(await attempt((sql) => sql`INSERT INTO users (username, kind) VALUES ('$fees', 'SYSTEM')`)).toBe("23514")
    expect(await attempt((sql) => sql`
      WITH u AS (INSERT INTO users (username, kind, role) VALUES ('$fees', 'SYSTEM', 'SYSTEM') RETURNING id)
      INSERT INTO wallets (user_id, owner_kind, asset_code) SELECT id, 'SYSTEM', 'GOLD_COINS' FROM u`)).toBe("ok")
    expect(await attempt(leg("TRANSACTION", player, "u.username = '$fees'", "multi"))).toBe("23514")
    expect(await attempt(leg("BONUS", "u.username = '$fees'", player))).toBe("23514")
  })

  test("the escrow's wallet equals the holds in force: a hold without its escrow credit, or an edited escrow balance, does not commit", async () => {
    const hold = (creditEscrow: boolean) => (sql: SqlClient.SqlClient) =>
      sql.withTransaction(Effect.gen(function*() {
        const [t] = yield* sql<{ id: string }>`SELECT gen_random_uuid() AS id`
        yield* sql.unsafe(`
          WITH d AS (SELECT id FROM wallets WHERE user_id = 2 AND asset_code = 'GOLD_COINS'),
               c AS (SELECT w.id FROM wallets w JOIN users u ON u.id = w.user_id WHERE u.role = 'ESCROW' AND w.asset_code = 'GOLD_COINS'),
               t AS (INSERT INTO transactions (id, type, asset_code, amount) VALUES ('${t!.id}', 'HOLD', 'GOLD_COINS', 5) RETURNING id),
               e AS (INSERT INTO ledger_entries (transaction_id, wallet_id, asset_code, entry_type, amount, balance_after)
                     SELECT t.id, d.id, 'GOLD_COINS', 'DEBIT', 5, 0 FROM t, d UNION ALL SELECT t.id, c.id, 'GOLD_COINS', 'CREDIT', 5, 0 FROM t, c),
               h AS (INSERT INTO holds (id, user_id, asset_code, amount, status, expires_at, created_at, hold_transaction_id)
                     SELECT gen_random_uuid(), 2, 'GOLD_COINS', 5, 'HELD', now() + interval '1 hour', now(), t.id FROM t)
          UPDATE wallets SET balance = balance + CASE WHEN id IN (SELECT id FROM c) THEN 5 ELSE -5 END
           WHERE id IN (SELECT id FROM d UNION ALL SELECT id FROM c ${creditEscrow ? "" : "WHERE false"})`)
      }))
    // The escrow wallet may not exist before its first hold: the service opens it then.
    await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`
      INSERT INTO wallets (user_id, owner_kind, asset_code)
      SELECT id, 'SYSTEM', 'GOLD_COINS' FROM users WHERE role = 'ESCROW' ON CONFLICT DO NOTHING`))
    expect(await attempt(hold(false))).toBe("23514")
    expect(await attempt(hold(true))).toBe("ok")
    expect(await attempt((sql) => sql`
      UPDATE wallets SET balance = balance - 1 WHERE asset_code = 'GOLD_COINS' AND user_id = (SELECT id FROM users WHERE role = 'ESCROW')`)).toBe("23514")
  })
})

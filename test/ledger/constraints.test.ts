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

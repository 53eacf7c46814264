import { afterAll, beforeAll, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type { AssetCode } from "../../src/domain/Asset.ts"
import type { Amount } from "../../src/domain/Money.ts"
import type { Posting, WalletId } from "../../src/domain/Posting.ts"
import type { WriteType } from "../../src/domain/Transaction.ts"
import type { UserId } from "../../src/domain/User.ts"
import { LedgerRepository } from "../../src/ledger/LedgerRepository.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { startService, type TestService } from "../support/TestService.ts"

/**
 * LedgerRepository.post applies a list of postings in one transaction, as a batch of
 * concurrent requests will: each posting sees the balances the ones before it left, a
 * rejected one writes nothing and does not stop the rest.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const gold = "GOLD_COINS" as AssetCode

const walletIds = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ userId: number; id: number }>`SELECT user_id, id FROM wallets WHERE asset_code = ${gold}`.pipe(
    Effect.map((rows) => new Map(rows.map((row) => [row.userId, row.id as WalletId])))
  ))

test("a list of postings: in order, each against the balances before it, rejections skipped", async () => {
  const wallets = await service.run(walletIds)
  const treasury = wallets.get(1)!, shivansh = wallets.get(2)!, lokendra = wallets.get(3)!
  // Seed: shivansh 1000, lokendra 500 Gold Coins.
  const posting = (type: WriteType, userId: number, amount: number): Posting => {
    const player = userId === 2 ? shivansh : lokendra
    return {
      type,
      userId: userId as UserId,
      assetCode: gold,
      amount: amount as Amount,
      description: null,
      ...(type === "SPEND" ? { debitWalletId: player, creditWalletId: treasury } : { debitWalletId: treasury, creditWalletId: player })
    }
  }
  const postings = [
    posting("SPEND", 2, 600), // 1000 -> 400
    posting("SPEND", 2, 600), // refused: 400 left
    posting("TOPUP", 2, 50), // 400 -> 450
    posting("SPEND", 2, 450), // 450 -> 0
    posting("SPEND", 3, 501), // refused: 500 left
    posting("BONUS", 3, 7) // 500 -> 507
  ] as const

  const outcomes = await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql.withTransaction(Effect.flatMap(LedgerRepository, (ledger) => ledger.post(postings)))).pipe(
        Effect.provide(LedgerRepository.Default)
      )
  )

  expect(outcomes.map((outcome) => Either.isRight(outcome))).toEqual([true, false, true, true, false, true])
  const applied = outcomes.filter(Either.isRight).map((outcome) => outcome.right)
  expect(applied.map((p) => p.posting.type === "SPEND" ? p.debitBalanceAfter : p.creditBalanceAfter)).toEqual([400, 450, 0, 507])
  expect(new Set(applied.map((p) => p.transactionId)).size).toBe(4)
  const refused = outcomes.filter(Either.isLeft).map((outcome) => outcome.left)
  expect(refused.map((r) => [r._tag, r._tag === "InsufficientFunds" ? r.balance : null])).toEqual([
    ["InsufficientFunds", 400],
    ["InsufficientFunds", 500]
  ])

  const written = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: string; entries: number }>`
      SELECT t.id, count(e.id)::int AS entries FROM transactions t JOIN ledger_entries e ON e.transaction_id = t.id
       WHERE t.id IN ${sql.in(applied.map((p) => p.transactionId))} GROUP BY t.id`))
  expect(written.map((row) => row.entries)).toEqual([2, 2, 2, 2])
  const balances = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ userId: number; balance: number }>`
      SELECT user_id, balance FROM wallets WHERE asset_code = ${gold} AND user_id IN (2, 3) ORDER BY user_id`))
  expect(balances).toEqual([{ userId: 2, balance: 0 }, { userId: 3, balance: 507 }])
  expect(await service.run(ledgerViolations)).toEqual(noViolations)
})

import { afterAll, beforeAll, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { AssetCode } from "../../src/domain/Asset.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import type { WriteType } from "../../src/domain/Transaction.ts"
import { SettlementReceipt } from "../../src/domain/Hold.ts"
import { ReversalReceipt } from "../../src/domain/Reversal.ts"
import { MultiLegReceipt, TransferReceipt } from "../../src/domain/Transfer.ts"
import { UserId } from "../../src/domain/User.ts"
import { type Command, multiLegCommand, transferCommand, writeCommand } from "../../src/domain/Write.ts"
import { LedgerRepository } from "../../src/ledger/LedgerRepository.ts"
import { commitBatch, type WriteExit } from "../../src/wallet/WriteBatch.ts"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import type { PlainLeg } from "../support/Requests.ts"
import { startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * One batch, one transaction: its commands decide in order, each against the balances and the
 * keys the ones before it left, exactly as if they had come one after another.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const command = (type: WriteType, userId: number, assetCode: string, amount: number, key: string, description?: string) =>
  writeCommand(
    type,
    {
      userId: UserId.make(userId),
      assetCode: AssetCode.make(assetCode),
      amount: Amount.make(amount),
      ...(description === undefined ? {} : { description })
    },
    IdempotencyKey.make(key)
  )

const commit = (commands: readonly [Command, ...Array<Command>]) =>
  service.run(commitBatch(commands).pipe(Effect.provide(LedgerRepository.Default)))

/** What a test asserts about one outcome: the balance of an applied write, a replay, or the error code. */
const summary = (exit: WriteExit) =>
  Exit.match(exit, {
    onSuccess: (result) => {
      if (result._tag === "Replayed") return `replayed ${result.outcome}`
      const receipt = result.receipt
      if (receipt instanceof TransferReceipt) return `transferred ${receipt.fromBalance}/${receipt.toBalance}`
      if (receipt instanceof MultiLegReceipt || receipt instanceof ReversalReceipt || receipt instanceof SettlementReceipt) return `legs ${receipt.legs.map((leg) => `${leg.fromBalance}/${leg.toBalance}`).join(" ")}`
      return `applied ${receipt.balance}`
    },
    onFailure: (cause) => {
      const failure = cause._tag === "Fail" ? cause.error.code : "defect"
      return failure
    }
  })

const balances = () =>
  service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ userId: number; assetCode: string; balance: number }>`
      SELECT user_id, asset_code, balance FROM wallets WHERE user_id IN (1, 2, 3) ORDER BY user_id, asset_code`))

test("commands apply in order against carried balances; a refusal fails alone", async () => {
  const before = new Map((await balances()).map((row) => [`${row.userId}/${row.assetCode}`, row.balance]))
  // Seed: shivansh (2) 1000 GOLD_COINS and 50 DIAMONDS, lokendra (3) 500 GOLD_COINS.
  const outcomes = await commit([
    command("SPEND", 2, "GOLD_COINS", 600, uniqueKey()), // 1000 -> 400
    command("SPEND", 2, "GOLD_COINS", 600, uniqueKey()), // refused: 400 left
    command("TOPUP", 2, "GOLD_COINS", 50, uniqueKey()), // 400 -> 450
    command("BONUS", 3, "DIAMONDS", 5, uniqueKey()), // 20 -> 25
    command("SPEND", 2, "GOLD_COINS", 450, uniqueKey()), // 450 -> 0
    command("SPEND", 3, "GOLD_COINS", 501, uniqueKey()), // refused: 500 left
    command("SPEND", 2, "DIAMONDS", 50, uniqueKey()), // 50 -> 0
    command("TOPUP", 1, "GOLD_COINS", 7, uniqueKey()), // the treasury: refused, key freed
    command("TOPUP", 999, "GOLD_COINS", 7, uniqueKey()), // no such user
    command("TOPUP", 3, "NOPE", 7, uniqueKey()) // no such asset
  ])
  expect(outcomes.map(summary)).toEqual([
    "applied 400",
    "INSUFFICIENT_FUNDS",
    "applied 450",
    "applied 25",
    "applied 0",
    "INSUFFICIENT_FUNDS",
    "applied 0",
    "SYSTEM_ACCOUNT",
    "USER_NOT_FOUND",
    "ASSET_NOT_FOUND"
  ])
  const after = new Map((await balances()).map((row) => [`${row.userId}/${row.assetCode}`, row.balance]))
  expect(after.get("2/GOLD_COINS")).toBe(0)
  expect(after.get("3/GOLD_COINS")).toBe(before.get("3/GOLD_COINS"))
  expect(after.get("3/DIAMONDS")).toBe(before.get("3/DIAMONDS")! + 5)
  expect(after.get("1/GOLD_COINS")).toBe(before.get("1/GOLD_COINS")! + 600 + 450 - 50)
  expect(await service.run(ledgerViolations)).toEqual(noViolations)
})

test("one key twice in a batch: the first applies, the same body replays, another body is refused", async () => {
  const key = uniqueKey("twice")
  const other = uniqueKey("other")
  const outcomes = await commit([
    command("TOPUP", 3, "LOYALTY_POINTS", 10, key),
    command("TOPUP", 3, "LOYALTY_POINTS", 10, key),
    command("TOPUP", 3, "LOYALTY_POINTS", 11, key),
    command("SPEND", 3, "LOYALTY_POINTS", 1_000_000, other),
    command("SPEND", 3, "LOYALTY_POINTS", 1_000_000, other)
  ])
  expect(outcomes.map(summary)).toEqual([
    "applied 110",
    "replayed APPLIED",
    "IDEMPOTENCY_KEY_REUSED",
    "INSUFFICIENT_FUNDS",
    "replayed INSUFFICIENT_FUNDS"
  ])
  const first = outcomes[0]!, replay = outcomes[1]!
  if (Exit.isSuccess(first) && first.value._tag === "Applied" && Exit.isSuccess(replay) && replay.value._tag === "Replayed") {
    expect((replay.value.body as { transactionId: string }).transactionId).toBe(first.value.receipt.transactionId)
  } else {
    throw new Error("expected an application and its replay")
  }
  // And in the next batch, the keys are the stored outcomes.
  const later = await commit([command("TOPUP", 3, "LOYALTY_POINTS", 10, key), command("SPEND", 3, "LOYALTY_POINTS", 1, other)])
  expect(later.map(summary)).toEqual(["replayed APPLIED", "IDEMPOTENCY_KEY_REUSED"])
  expect(await service.run(ledgerViolations)).toEqual(noViolations)
})

test("a key whose first command stored nothing is free for the next one in the same batch", async () => {
  const key = uniqueKey("freed")
  const outcomes = await commit([
    command("TOPUP", 999, "GOLD_COINS", 10, key), // 404: stores nothing
    command("TOPUP", 3, "GOLD_COINS", 10, key) // a corrected retry under the same key
  ])
  expect(outcomes.map(summary)).toEqual(["USER_NOT_FOUND", expect.stringMatching(/^applied /)])
  const stored = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ outcome: string; fingerprint: string }>`SELECT outcome, fingerprint FROM idempotency_records WHERE key = ${key}`))
  // The record holds the command that applied, so its own retry replays.
  expect(stored).toEqual([{ outcome: "APPLIED", fingerprint: command("TOPUP", 3, "GOLD_COINS", 10, key).fingerprint }])
  const freedOnly = uniqueKey("freed-only")
  expect((await commit([command("TOPUP", 999, "GOLD_COINS", 10, freedOnly)])).map(summary)).toEqual(["USER_NOT_FOUND"])
  const left = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ key: string }>`SELECT key FROM idempotency_records WHERE key = ${freedOnly}`))
  expect(left).toEqual([])
})

test("an asset created after its users: both wallets open on first use", async () => {
  await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO assets (code, name) VALUES ('RUBIES', 'Rubies')`))
  const outcomes = await commit([
    command("TOPUP", 2, "RUBIES", 3, uniqueKey()),
    command("TOPUP", 3, "RUBIES", 4, uniqueKey()),
    command("SPEND", 2, "RUBIES", 1, uniqueKey())
  ])
  expect(outcomes.map(summary)).toEqual(["applied 3", "applied 4", "applied 2"])
  expect(await service.run(ledgerViolations)).toEqual(noViolations)
})

const transfer = (from: number, to: number, assetCode: string, amount: number, key: string) =>
  transferCommand(
    { fromUserId: UserId.make(from), toUserId: UserId.make(to), assetCode: AssetCode.make(assetCode), amount: Amount.make(amount) },
    IdempotencyKey.make(key)
  )

const legs = (key: string, first: PlainLeg, ...rest: Array<PlainLeg>) =>
  multiLegCommand(
    Arr.map(Arr.make(first, ...rest), ([from, to, assetCode, amount]) => ({
      fromUserId: UserId.make(from),
      toUserId: UserId.make(to),
      assetCode: AssetCode.make(assetCode),
      amount: Amount.make(amount)
    })),
    {},
    IdempotencyKey.make(key)
  )

const newUser = async (label: string) =>
  (await service.run(service.client.users.create({ payload: { username: `${label}_${uniqueKey("u").replace(/-/g, "_")}` as never } }))).userId

test("v1 writes, transfers and multi-leg transactions in one batch: in order, carried balances, one key twice", async () => {
  const a = await newUser("mix_a")
  const b = await newUser("mix_b")
  const treasuryBefore = await service.run(balanceOf(1, "GOLD_COINS"))
  const twice = uniqueKey("twice")
  const outcomes = await commit([
    command("TOPUP", a, "GOLD_COINS", 100, uniqueKey()), // a 100
    transfer(a, b, "GOLD_COINS", 60, uniqueKey()), // a 40, b 60
    legs(twice, [b, a, "GOLD_COINS", 60], [a, b, "GOLD_COINS", 100]), // b 0 then a 100; a 0 then b 100
    transfer(b, a, "GOLD_COINS", 101, uniqueKey()), // refused: b has 100
    legs(twice, [b, a, "GOLD_COINS", 60], [a, b, "GOLD_COINS", 100]), // the same request again
    legs(twice, [b, a, "GOLD_COINS", 1]), // another request under the key
    command("SPEND", b, "GOLD_COINS", 100, uniqueKey()), // b 0
    legs(uniqueKey(), [1, a, "GOLD_COINS", 5], [a, b, "GOLD_COINS", 6]), // refused at leg 1: a has 5
    transfer(a, a, "GOLD_COINS", 1, uniqueKey()),
    transfer(a, 1, "GOLD_COINS", 1, uniqueKey())
  ])
  expect(outcomes.map(summary)).toEqual([
    "applied 100",
    "transferred 40/60",
    "legs 0/100 0/100",
    "INSUFFICIENT_FUNDS",
    "replayed APPLIED",
    "IDEMPOTENCY_KEY_REUSED",
    "applied 0",
    "INSUFFICIENT_FUNDS",
    "SAME_WALLET",
    "SYSTEM_ACCOUNT"
  ])
  const refusedLeg = outcomes[7]!
  expect(Exit.isFailure(refusedLeg) && refusedLeg.cause._tag === "Fail" && refusedLeg.cause.error).toMatchObject({ legIndex: 1, balance: 5 })
  expect(await service.run(balanceOf(a, "GOLD_COINS"))).toBe(0)
  expect(await service.run(balanceOf(b, "GOLD_COINS"))).toBe(0)
  // The refused multi-leg transaction's first leg, from the treasury, was undone with it.
  expect(await service.run(balanceOf(1, "GOLD_COINS"))).toBe(treasuryBefore)
  expect(await service.run(ledgerViolations)).toEqual(noViolations)
})

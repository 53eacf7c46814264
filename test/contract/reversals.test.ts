import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { ReversalRequest } from "../../src/domain/Reversal.ts"
import { TransactionId } from "../../src/domain/Transaction.ts"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { multiLegRequest } from "../support/Requests.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * POST /api/transactions/{id}/reversal: a new REVERSAL transaction mirroring an earlier one,
 * never more than it, and below zero only when allowed, down to the asset's maxDebt.
 */

let service: TestService
let debtAsset: string
beforeAll(async () => {
  service = await startService()
  debtAsset = `DEBT_${Date.now().toString(36).toUpperCase()}`
  const created = await postJson(service, "/api/assets", { code: debtAsset, name: "Credit Coins", maxDebt: 100 })
  expect(created.status).toBe(201)
})
afterAll(() => service.dispose())

const newUser = async (label: string) => {
  const created = await postJson(service, "/api/users", { username: `${label}_${uniqueKey("u").replace(/-/g, "_")}` })
  expect(created.status).toBe(201)
  return created.body.userId as number
}

const write = async (kind: "topup" | "bonus" | "spend", userId: number, amount: number, assetCode = "GOLD_COINS") => {
  const response = await postJson(service, `/api/wallets/${kind}`, { userId, assetCode, amount, idempotencyKey: uniqueKey() })
  expect(response.status).toBe(201)
  return response.body.transactionId as string
}

const reversal = (fields: { amount?: number; allowDebt?: boolean; description?: string; metadata?: Record<string, string> } = {}) =>
  ReversalRequest.make({
    idempotencyKey: IdempotencyKey.make(uniqueKey("rev")),
    ...(fields.amount === undefined ? {} : { amount: Amount.make(fields.amount) }),
    ...(fields.allowDebt === undefined ? {} : { allowDebt: fields.allowDebt }),
    ...(fields.description === undefined ? {} : { description: fields.description }),
    ...(fields.metadata === undefined ? {} : { metadata: fields.metadata })
  })

const reverse = (transactionId: string, fields: Parameters<typeof reversal>[0] = {}) =>
  service.run(service.client.transactions.reverse({
    path: { transactionId: TransactionId.make(transactionId) },
    payload: reversal(fields),
    headers: {}
  }))

const refused = (transactionId: string, fields: Parameters<typeof reversal>[0] = {}) =>
  service.run(Effect.flip(service.client.transactions.reverse({
    path: { transactionId: TransactionId.make(transactionId) },
    payload: reversal(fields),
    headers: {}
  })))

describe("reversals through the typed client", () => {
  test("a topup reversed whole: the coins go back, the original is untouched, lookups link both", async () => {
    const player = await newUser("refunded")
    const topup = await write("topup", player, 100)
    const receipt = await reverse(topup, { description: "Chargeback", metadata: { case: "C-1" } })
    expect(receipt).toMatchObject({
      type: "REVERSAL",
      reverses: topup,
      legs: [{ fromUserId: player, toUserId: 1, assetCode: "GOLD_COINS", amount: 100, fromBalance: 0 }],
      description: "Chargeback",
      metadata: { case: "C-1" }
    })
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(0)

    const original = await service.run(service.client.transactions.get({ path: { transactionId: TransactionId.make(topup) } }))
    expect(original.type).toBe("TOPUP")
    expect(original.reverses).toBeNull()
    expect(original.reversedBy).toEqual([receipt.transactionId])
    expect(original.legs).toEqual([{ fromUserId: 1, toUserId: player, assetCode: "GOLD_COINS", amount: 100 }] as never)
    const mirror = await service.run(service.client.transactions.get({ path: { transactionId: receipt.transactionId } }))
    expect(mirror).toMatchObject({ type: "REVERSAL", reverses: topup, reversedBy: [] })
    expect(mirror.legs).toEqual([{ fromUserId: player, toUserId: 1, assetCode: "GOLD_COINS", amount: 100 }] as never)

    expect(await refused(topup)).toMatchObject({ _tag: "AlreadyReversed", code: "ALREADY_REVERSED", reversible: 0 })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a one-leg transaction reversed in parts, never past its amount", async () => {
    const player = await newUser("partial")
    await write("topup", player, 100)
    const spend = await write("spend", player, 80)
    expect((await reverse(spend, { amount: 30 })).legs[0]).toMatchObject({ fromUserId: 1, toUserId: player, amount: 30, toBalance: 50 })
    expect(await refused(spend, { amount: 51 })).toMatchObject({ code: "ALREADY_REVERSED", reversible: 50, amount: 51 })
    // Without an amount, what is left.
    expect((await reverse(spend)).legs[0]).toMatchObject({ amount: 50, toBalance: 100 })
    expect(await refused(spend, { amount: 1 })).toMatchObject({ code: "ALREADY_REVERSED", reversible: 0 })
    const original = await service.run(service.client.transactions.get({ path: { transactionId: TransactionId.make(spend) } }))
    expect(original.reversedBy).toHaveLength(2)
  })

  test("a transfer and a multi-leg transaction are reversed whole, leg for leg", async () => {
    const a = await newUser("mirror_a")
    const b = await newUser("mirror_b")
    await write("topup", a, 100)
    const transfer = await postJson(service, "/api/wallets/transfer", {
      fromUserId: a,
      toUserId: b,
      assetCode: "GOLD_COINS",
      amount: 40,
      idempotencyKey: uniqueKey()
    })
    expect((await reverse(transfer.body.transactionId as string)).legs).toMatchObject([{ fromUserId: b, toUserId: a, amount: 40, fromBalance: 0, toBalance: 100 }])

    const multi = await service.run(service.client.transactions.create({
      payload: multiLegRequest([[a, b, "GOLD_COINS", 60], [1, b, "DIAMONDS", 5]], { idempotencyKey: uniqueKey() }),
      headers: {}
    }))
    expect(await refused(multi.transactionId, { amount: 1 })).toMatchObject({ _tag: "NotReversible", code: "NOT_REVERSIBLE" })
    const undone = await reverse(multi.transactionId)
    expect(undone.legs).toMatchObject([
      { fromUserId: b, toUserId: a, assetCode: "GOLD_COINS", amount: 60, fromBalance: 0, toBalance: 100 },
      { fromUserId: b, toUserId: 1, assetCode: "DIAMONDS", amount: 5, fromBalance: 0 }
    ])
    expect(await refused(multi.transactionId)).toMatchObject({ code: "ALREADY_REVERSED" })
    // A reversal is not reversed again.
    expect(await refused(undone.transactionId)).toMatchObject({ code: "NOT_REVERSIBLE" })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("an opening balance is not reversible; an unknown transaction is 404", async () => {
    const [genesis] = await service.run(
      Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ id: string }>`SELECT id FROM transactions WHERE type = 'GENESIS' LIMIT 1`)
    )
    expect(await refused(genesis!.id)).toMatchObject({ code: "NOT_REVERSIBLE" })
    expect(await refused("00000000-0000-4000-8000-000000000000")).toMatchObject({
      _tag: "TransactionNotFound",
      code: "TRANSACTION_NOT_FOUND"
    })
  })
})

describe("reversals and debt", () => {
  test("coins already spent: INSUFFICIENT_FUNDS, or with allowDebt DEBT_LIMIT where the asset allows no debt", async () => {
    const player = await newUser("spent")
    const topup = await write("topup", player, 50)
    await write("spend", player, 30)
    expect(await refused(topup)).toMatchObject({ code: "INSUFFICIENT_FUNDS", userId: player, balance: 20, amount: 50 })
    expect(await refused(topup, { allowDebt: true })).toMatchObject({ code: "DEBT_LIMIT", maxDebt: 0, balance: 20 })
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(20)
  })

  test("with allowDebt the balance goes below zero down to maxDebt; a player in debt cannot spend; credits pay it back", async () => {
    const player = await newUser("debtor")
    const topup = await write("topup", player, 90, debtAsset)
    await write("spend", player, 90, debtAsset)
    const receipt = await reverse(topup, { allowDebt: true })
    expect(receipt.legs[0]).toMatchObject({ fromUserId: player, fromBalance: -90 })
    const balance = await service.run(service.client.wallets.balance({ path: { userId: player as never }, urlParams: { assetCode: debtAsset as never } }))
    expect(balance).toMatchObject({ balance: -90 })

    const spend = await postJson(service, "/api/wallets/spend", { userId: player, assetCode: debtAsset, amount: 1, idempotencyKey: uniqueKey() })
    expect([spend.status, spend.body.code, spend.body.balance]).toEqual([409, "INSUFFICIENT_FUNDS", -90])

    // Credits pay the debt first; a debt past maxDebt (100) is refused.
    const bonus = await write("bonus", player, 20, debtAsset)
    expect(await service.run(balanceOf(player, debtAsset))).toBe(-70)
    const big = await write("topup", player, 170, debtAsset)
    await write("spend", player, 100, debtAsset)
    expect(await refused(big, { allowDebt: true })).toMatchObject({ code: "DEBT_LIMIT", maxDebt: 100, balance: 0, amount: 170 })
    expect((await reverse(big, { amount: 60, allowDebt: true })).legs[0]).toMatchObject({ fromBalance: -60 })
    expect((await reverse(bonus, { allowDebt: true })).legs[0]).toMatchObject({ fromBalance: -80 })
    expect((await reverse(big, { amount: 20, allowDebt: true })).legs[0]).toMatchObject({ fromBalance: -100 })
    expect(await refused(big, { amount: 1, allowDebt: true })).toMatchObject({ code: "DEBT_LIMIT", balance: -100 })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("the database holds the floor: no wallet below minus its asset's maxDebt, nor a lower maxDebt than a debt", async () => {
    const player = await newUser("floor")
    const attempt = (statement: (sql: SqlClient.SqlClient) => Effect.Effect<unknown, unknown>) =>
      service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql.withTransaction(statement(sql)).pipe(
          Effect.as("ok"),
          Effect.catchAll((error) => Effect.succeed(/"code":"([0-9A-Z]{5})"/.exec(JSON.stringify(error))?.[1] ?? String(error)))
        )))
    const topup = await write("topup", player, 10, debtAsset)
    await write("spend", player, 10, debtAsset)
    await reverse(topup, { allowDebt: true })
    expect(await attempt((sql) => sql`UPDATE wallets SET balance = -101 WHERE user_id = ${player} AND asset_code = ${debtAsset}`)).toBe("23514")
    expect(await attempt((sql) => sql`UPDATE assets SET max_debt = 5 WHERE code = ${debtAsset}`)).toBe("23514")
    expect(await attempt((sql) => sql`UPDATE wallets SET balance = -1 WHERE user_id = ${player} AND asset_code = 'GOLD_COINS'`)).toBe("23514")
    // Reversing more than the transaction, written straight to the table, is refused too.
    expect(await attempt((sql) =>
      sql`INSERT INTO transactions (type, asset_code, amount, reverses) VALUES ('REVERSAL', ${debtAsset}, 1, ${topup})`
    )).toBe("23514")
  })
})

describe("reversal idempotency and malformed requests", () => {
  test("a replay is the first answer byte for byte, a refusal too; another body under the key is 422", async () => {
    const player = await newUser("replay")
    const topup = await write("topup", player, 10)
    await write("spend", player, 5)
    const key = uniqueKey()
    const first = await postJson(service, `/api/transactions/${topup}/reversal`, { idempotencyKey: key })
    expect([first.status, first.body.code]).toEqual([409, "INSUFFICIENT_FUNDS"])
    const again = await postJson(service, `/api/transactions/${topup}/reversal`, {}, { "idempotency-key": key })
    expect(again.status).toBe(409)
    expect(again.headers.get("idempotent-replayed")).toBe("true")
    expect(again.text).toBe(first.text)

    const applied = await postJson(service, `/api/transactions/${topup}/reversal`, { amount: 5, idempotencyKey: `${key}-2` })
    expect(applied.status).toBe(201)
    const replay = await postJson(service, `/api/transactions/${topup}/reversal`, { amount: 5, idempotencyKey: `${key}-2` })
    expect([replay.status, replay.headers.get("idempotent-replayed"), replay.text]).toEqual([201, "true", applied.text])
    const other = await postJson(service, `/api/transactions/${topup}/reversal`, { amount: 4, idempotencyKey: `${key}-2` })
    expect([other.status, other.body.code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"])
    const missing = await postJson(service, `/api/transactions/${topup}/reversal`, {})
    expect([missing.status, missing.body.code]).toEqual([400, "IDEMPOTENCY_KEY_MISSING"])
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(0)
  })

  test("a bad id, amount or allowDebt is 400 VALIDATION_ERROR", async () => {
    for (const [path, body] of [
      ["/api/transactions/not-a-uuid/reversal", { idempotencyKey: uniqueKey() }],
      ["/api/transactions/00000000-0000-4000-8000-000000000000/reversal", { amount: 0, idempotencyKey: uniqueKey() }],
      ["/api/transactions/00000000-0000-4000-8000-000000000000/reversal", { amount: "5", idempotencyKey: uniqueKey() }],
      ["/api/transactions/00000000-0000-4000-8000-000000000000/reversal", { allowDebt: "yes", idempotencyKey: uniqueKey() }]
    ] as const) {
      const response = await postJson(service, path, body)
      expect([response.status, response.body.code]).toEqual([400, "VALIDATION_ERROR"])
    }
  })
})

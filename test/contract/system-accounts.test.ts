import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * System accounts are untouchable except through their own operations (issue 13): every write
 * endpoint tried with the treasury, the escrow and a system account added later as a side.
 * Each refusal is 422 SYSTEM_ACCOUNT naming the account (and the leg), and writes nothing.
 */

let service: TestService
let escrow: number
let fees: number
const treasury = 1

beforeAll(async () => {
  service = await startService()
  const rows = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ id: number; role: string }>`
      WITH added AS (INSERT INTO users (username, kind, role) VALUES ('$fees', 'SYSTEM', 'SYSTEM') RETURNING id, role)
      SELECT id, role FROM added UNION ALL SELECT id, role FROM users WHERE role = 'ESCROW'`
  ))
  escrow = rows.find((row) => row.role === "ESCROW")!.id
  fees = rows.find((row) => row.role === "SYSTEM")!.id
})
afterAll(() => service.dispose())

/** Every transaction, entry and hold in the ledger: nothing of a refused request may be among them. */
const ledgerSize = () =>
  service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ transactions: number; entries: number; holds: number }>`
      SELECT (SELECT count(*) FROM transactions)::int AS transactions, (SELECT count(*) FROM ledger_entries)::int AS entries,
             (SELECT count(*) FROM holds)::int AS holds`.pipe(Effect.map((rows) => rows[0]!))
  ))

/** A request that must be refused as SYSTEM_ACCOUNT for `userId` (at `legIndex`), leaving the ledger as it was. */
const refusedFor = async (path: string, body: Record<string, unknown>, userId: number, legIndex?: number) => {
  const before = await ledgerSize()
  const answer = await postJson(service, path, { idempotencyKey: uniqueKey(), ...body })
  expect(answer.status).toBe(422)
  expect(answer.body).toMatchObject({ _tag: "SystemAccount", code: "SYSTEM_ACCOUNT", userId })
  expect(answer.body.legIndex).toBe(legIndex as never)
  expect(typeof answer.body.message).toBe("string")
  expect(await ledgerSize()).toEqual(before)
}

const systemAccounts = () => [["the treasury", treasury], ["the escrow", escrow], ["a system account added later", fees]] as const

describe("system accounts as sides of every write endpoint", () => {
  test("the issue's scenario: a multi-leg transaction cannot take what the escrow holds", async () => {
    const a = await newPlayer(service, "holder", 300)
    const b = await newPlayer(service, "taker")
    const hold = await postJson(service, "/api/holds", { userId: a, assetCode: "GOLD_COINS", amount: 300, idempotencyKey: uniqueKey() })
    expect(hold.status).toBe(201)
    await refusedFor("/api/transactions", { legs: [{ fromUserId: escrow, toUserId: b, assetCode: "GOLD_COINS", amount: 300 }] }, escrow, 0)
    const voided = await postJson(service, `/api/holds/${hold.body.holdId}/void`, { idempotencyKey: uniqueKey() })
    expect(voided.status).toBe(200)
    const reconciliation = await getJson(service, "/api/reconciliation")
    expect(reconciliation.body.ok).toBe(true)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  for (const type of ["topup", "bonus", "spend"] as const) {
    test(`${type}: no system account is the player`, async () => {
      for (const [, userId] of systemAccounts()) {
        await refusedFor(`/api/wallets/${type}`, { userId, assetCode: "GOLD_COINS", amount: 5 }, userId)
      }
    })
  }

  test("transfer: no system account on either side", async () => {
    const player = await newPlayer(service, "xfer", 50)
    for (const [, userId] of systemAccounts()) {
      await refusedFor("/api/wallets/transfer", { fromUserId: player, toUserId: userId, assetCode: "GOLD_COINS", amount: 5 }, userId)
      await refusedFor("/api/wallets/transfer", { fromUserId: userId, toUserId: player, assetCode: "GOLD_COINS", amount: 5 }, userId)
    }
  })

  test("multi-leg: the treasury may be a side of a leg; the escrow and any other system account may not, named by legIndex", async () => {
    const player = await newPlayer(service, "legs", 50)
    const other = await newPlayer(service, "legs2")
    const fine = { fromUserId: player, toUserId: other, assetCode: "GOLD_COINS", amount: 1 }
    for (const userId of [escrow, fees]) {
      await refusedFor("/api/transactions", { legs: [fine, { fromUserId: player, toUserId: userId, assetCode: "GOLD_COINS", amount: 5 }] }, userId, 1)
      await refusedFor("/api/transactions", { legs: [fine, fine, { fromUserId: userId, toUserId: player, assetCode: "GOLD_COINS", amount: 5 }] }, userId, 2)
    }
    const withTreasury = await postJson(service, "/api/transactions", {
      idempotencyKey: uniqueKey(),
      legs: [{ fromUserId: player, toUserId: treasury, assetCode: "GOLD_COINS", amount: 5 }, { fromUserId: treasury, toUserId: player, assetCode: "DIAMONDS", amount: 2 }]
    })
    expect(withTreasury.status).toBe(201)
  })

  test("holds: no system account holds; a capture pays the treasury or a player, never the escrow or another system account", async () => {
    for (const [, userId] of systemAccounts()) {
      await refusedFor("/api/holds", { userId, assetCode: "GOLD_COINS", amount: 5 }, userId)
    }
    const player = await newPlayer(service, "captured", 20)
    const hold = await postJson(service, "/api/holds", { userId: player, assetCode: "GOLD_COINS", amount: 10, idempotencyKey: uniqueKey() })
    expect(hold.status).toBe(201)
    for (const userId of [escrow, fees]) {
      await refusedFor(`/api/holds/${hold.body.holdId}/capture`, { toUserId: userId }, userId)
    }
    const toTreasury = await postJson(service, `/api/holds/${hold.body.holdId}/capture`, { idempotencyKey: uniqueKey(), toUserId: treasury })
    expect(toTreasury.status).toBe(201)
  })

  test("bulk: an item naming a system account is refused alone, the others apply", async () => {
    const player = await newPlayer(service, "bulk")
    const items = [
      ...systemAccounts().map(([, userId]) => ({ type: "BONUS", userId, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: uniqueKey() })),
      { type: "BONUS", userId: player, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: uniqueKey() }
    ]
    const bulk = await postJson(service, "/api/wallets/batch", { items })
    expect(bulk.status).toBe(200)
    const results = bulk.body.results as Array<{ index: number; status: number; body: Record<string, unknown> }>
    expect(results.map((result) => [result.status, result.body.code ?? null])).toEqual([
      [422, "SYSTEM_ACCOUNT"],
      [422, "SYSTEM_ACCOUNT"],
      [422, "SYSTEM_ACCOUNT"],
      [201, null]
    ])
  })

  test("reversal: a hold's transactions are not reversed, so the escrow never is a reversal's side", async () => {
    const player = await newPlayer(service, "unhold", 20)
    const hold = await postJson(service, "/api/holds", { userId: player, assetCode: "GOLD_COINS", amount: 10, idempotencyKey: uniqueKey() })
    const reversal = await postJson(service, `/api/transactions/${hold.body.transactionId}/reversal`, { idempotencyKey: uniqueKey() })
    expect(reversal.status).toBe(422)
    expect(reversal.body.code).toBe("NOT_REVERSIBLE")
  })

  test("reconciliation reports what the treasury issued against what everyone else holds", async () => {
    const reconciliation = await getJson(service, "/api/reconciliation")
    expect(reconciliation.body.ok).toBe(true)
    const assets = reconciliation.body.assets as Array<Record<string, number>>
    const treasuryBalances = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ assetCode: string; balance: number }>`SELECT asset_code AS "assetCode", balance FROM wallets WHERE user_id = 1`.withoutTransform
    ))
    for (const asset of assets) {
      const treasuryBalance = treasuryBalances.find((row) => row.assetCode === (asset.assetCode as unknown as string))?.balance ?? 0
      expect(asset.issued).toBe(-treasuryBalance)
      expect(asset.outstanding).toBe(asset.issued!)
    }
    expect(assets.find((asset) => (asset.assetCode as unknown as string) === "GOLD_COINS")!.issued).toBeGreaterThan(0)
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const counts = () =>
  service.run(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    return yield* sql<{ assetCode: string; wallets: number; transactions: number }>`
      SELECT a.code AS "assetCode",
             (SELECT count(*)::int FROM wallets w WHERE w.asset_code = a.code) AS "wallets",
             (SELECT count(*)::int FROM transactions t WHERE t.asset_code = a.code) AS "transactions"
        FROM assets a ORDER BY a.code`
  }))

/** Moves a wallet's balance behind the ledger's back, as a bad manual fix would. */
const tamper = (userId: number, assetCode: string, delta: number) =>
  service.run(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ id: number }>`
      UPDATE wallets SET balance = balance + ${delta} WHERE user_id = ${userId} AND asset_code = ${assetCode} RETURNING id`
    return row!.id
  }))

describe("reconciliation", () => {
  test("a sound ledger is ok: every asset sums to zero, every wallet equals its entries, with its counts", async () => {
    for (const [path, assetCode, amount] of [["topup", "GOLD_COINS", 70], ["spend", "DIAMONDS", 5], ["bonus", "LOYALTY_POINTS", 9]] as const) {
      expect((await postJson(service, `/api/wallets/${path}`, { userId: 2, assetCode, amount, idempotencyKey: uniqueKey() })).status).toBe(201)
    }
    const before = Date.now()
    const report = await service.run(service.client.reconciliation.reconcile())
    expect(report.ok).toBe(true)
    expect(report.checkedAt.getTime()).toBeGreaterThan(before - 5_000)
    expect(report.assets.map((a) => ({ assetCode: String(a.assetCode), wallets: a.wallets, transactions: a.transactions }))).toEqual([...await counts()])
    for (const asset of report.assets) {
      expect(asset).toMatchObject({ sumOfBalances: 0, mismatchedWalletCount: 0, mismatchedWallets: [] })
    }
  })

  test("a wallet moved behind the ledger's back is found, and its asset no longer sums to zero", async () => {
    const walletId = await tamper(3, "DIAMONDS", 5)
    try {
      const response = await getJson(service, "/api/reconciliation")
      expect(response.status).toBe(200)
      expect(response.body.ok).toBe(false)
      const assets = response.body.assets as Array<Record<string, unknown>>
      const diamonds = assets.find((a) => a.assetCode === "DIAMONDS")!
      expect(diamonds).toMatchObject({ sumOfBalances: 5, mismatchedWalletCount: 1 })
      const listed = diamonds.mismatchedWallets as Array<{ walletId: number; balance: number; entriesNet: number }>
      expect(listed).toHaveLength(1)
      expect(listed[0]!.walletId).toBe(walletId)
      expect(listed[0]!.balance - listed[0]!.entriesNet).toBe(5)
      expect(assets.filter((a) => a.assetCode !== "DIAMONDS").every((a) => a.mismatchedWalletCount === 0)).toBe(true)
    } finally {
      await tamper(3, "DIAMONDS", -5)
    }
    expect((await service.run(service.client.reconciliation.reconcile())).ok).toBe(true)
  })

  test("a check that runs past RECONCILIATION_TIMEOUT is cancelled by the database: 503, the service goes on", async () => {
    const slow = await startService({ RECONCILIATION_TIMEOUT: "1 second" })
    try {
      // Holding the ledger's lock makes the check wait past its timeout, as a huge ledger would.
      const response = await slow.run(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        return yield* sql.withTransaction(Effect.gen(function*() {
          yield* sql`LOCK TABLE ledger_entries IN ACCESS EXCLUSIVE MODE`
          return yield* Effect.promise(() => getJson(slow, "/api/reconciliation"))
        }))
      }))
      expect(response).toMatchObject({ status: 503, body: { code: "SERVICE_UNAVAILABLE" } })
      expect((await slow.run(slow.client.reconciliation.reconcile())).ok).toBe(true)
    } finally {
      await slow.dispose()
    }
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { AssetCode, AssetUpdate, NewAsset } from "../../src/domain/Asset.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

/** A code no other test of this process uses: A-Z and digits of a unique key. */
const newCode = () => `T_${uniqueKey("").replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`.slice(0, 32)

describe("assets", () => {
  test("the seeded currencies are listed by code, with no debt allowed", async () => {
    const { assets } = await service.run(service.client.assets.list())
    const seeded = assets.filter((asset) => ["DIAMONDS", "GOLD_COINS", "LOYALTY_POINTS"].includes(asset.code))
    expect(seeded.map((asset) => [asset.code, asset.name, asset.maxDebt])).toEqual([
      ["DIAMONDS", "Diamonds", 0],
      ["GOLD_COINS", "Gold Coins", 0],
      ["LOYALTY_POINTS", "Loyalty Points", 0]
    ])
    expect(assets.map((asset) => asset.code)).toEqual(assets.map((asset) => asset.code).sort())
  })

  test("a new asset is 201, listed, has a treasury wallet, and players can be paid in it at once", async () => {
    const code = newCode()
    const created = await service.run(
      service.client.assets.create({ payload: NewAsset.make({ code: code as never, name: "Star Dust", maxDebt: 250 }) })
    )
    expect(created).toMatchObject({ code, name: "Star Dust", maxDebt: 250 })
    expect(created.createdAt).toBeInstanceOf(Date)
    const { assets } = await service.run(service.client.assets.list())
    expect(assets.find((asset) => asset.code === code)).toMatchObject({ name: "Star Dust", maxDebt: 250 })

    const treasuryWallets = await service.run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM wallets WHERE user_id = 1 AND asset_code = ${code}`
    }))
    expect(treasuryWallets[0]!.count).toBe(1)

    const before = await getJson(service, `/api/wallets/2/balance?assetCode=${code}`)
    expect(before).toMatchObject({ status: 200, body: { assetCode: code, balance: 0 } })
    const topup = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: code, amount: 40, idempotencyKey: uniqueKey() })
    expect(topup).toMatchObject({ status: 201, body: { balance: 40 } })
    const spend = await postJson(service, "/api/wallets/spend", { userId: 2, assetCode: code, amount: 15, idempotencyKey: uniqueKey() })
    expect(spend).toMatchObject({ status: 201, body: { balance: 25 } })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a taken code is 409 ASSET_EXISTS and changes nothing", async () => {
    const error = await service.run(
      Effect.flip(service.client.assets.create({ payload: NewAsset.make({ code: "GOLD_COINS" as never, name: "Fake Gold" }) }))
    )
    expect(error).toMatchObject({ _tag: "AssetExists", code: "ASSET_EXISTS", assetCode: "GOLD_COINS" })
    const { assets } = await service.run(service.client.assets.list())
    expect(assets.find((asset) => asset.code === "GOLD_COINS")?.name).toBe("Gold Coins")
  })

  test("a malformed asset is 400 VALIDATION_ERROR", async () => {
    for (
      const body of [
        { code: "gold", name: "lower case" },
        { code: "1GOLD", name: "digit first" },
        { code: "A".repeat(33), name: "too long" },
        { code: "OK_CODE", name: "" },
        { code: "OK_CODE", name: "x".repeat(101) },
        { code: "OK_CODE", name: "Debt", maxDebt: -1 },
        { code: "OK_CODE", name: "Debt", maxDebt: 1.5 },
        { code: "OK_CODE" }
      ]
    ) {
      const response = await postJson(service, "/api/assets", body)
      expect({ body, status: response.status, code: response.body.code }).toEqual({ body, status: 400, code: "VALIDATION_ERROR" })
    }
    const { assets } = await service.run(service.client.assets.list())
    expect(assets.some((asset) => asset.code === "OK_CODE")).toBe(false)
  })
})

describe("PATCH /api/assets/{code}", () => {
  const patch = (code: string, body: unknown) =>
    service.fetch(`/api/assets/${code}`, { method: "PATCH", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
      .then(async (response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> }))

  test("renames an asset and keeps its code, maxDebt and createdAt; an unknown code is 404", async () => {
    const code = newCode()
    const created = await postJson(service, "/api/assets", { code, name: "Before", maxDebt: 7 })
    expect(created.status).toBe(201)
    const renamed = await patch(code, { name: "After" })
    expect(renamed).toEqual({ status: 200, body: { ...created.body, name: "After" } })
    expect((await getJson(service, "/api/assets")).body.assets).toContainEqual(renamed.body)
    const missing = await patch("NO_SUCH_ASSET", { name: "x" })
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ code: "ASSET_NOT_FOUND", assetCode: "NO_SUCH_ASSET" })
  })

  test("a name or maxDebt out of bounds, or neither, is 400 and changes nothing", async () => {
    for (
      const body of [
        { name: "" },
        { name: "x".repeat(101) },
        {},
        { name: 5 },
        { maxDebt: -1 },
        { maxDebt: 1.5 },
        { maxDebt: 2 ** 53 },
        { maxDebt: "10" },
        { name: "Fine", maxDebt: -5 }
      ]
    ) {
      const answer = await patch("DIAMONDS", body)
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({ body, status: 400, code: "VALIDATION_ERROR" })
    }
    expect((await getJson(service, "/api/assets")).body.assets).toContainEqual(
      expect.objectContaining({ code: "DIAMONDS", name: "Diamonds", maxDebt: 0 })
    )
  })

  /** A player of `code` who owes `debt`: paid, spent, then the payment reversed into debt. */
  const playerInDebt = async (code: string, debt: number) => {
    const userId = await newPlayer(service, "asset_debt")
    const write = async (kind: "topup" | "spend", amount: number) => {
      const answer = await postJson(service, `/api/wallets/${kind}`, { userId, assetCode: code, amount, idempotencyKey: uniqueKey() })
      expect(answer.status).toBe(201)
      return answer.body.transactionId as string
    }
    const topup = await write("topup", debt)
    await write("spend", debt)
    const reversal = await postJson(service, `/api/transactions/${topup}/reversal`, { allowDebt: true, idempotencyKey: uniqueKey() })
    expect(reversal.status).toBe(201)
    expect((await getJson(service, `/api/wallets/${userId}/balance?assetCode=${code}`)).body.balance).toBe(-debt)
    return userId
  }

  /** maxDebt as every wallet of the asset holds it (the copy their floor's CHECK reads). */
  const walletMaxDebts = (code: string) =>
    service.run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      const rows = yield* sql<{ maxDebt: string }>`SELECT DISTINCT max_debt::text AS "maxDebt" FROM wallets WHERE asset_code = ${code}`
      return rows.map((row) => Number(row.maxDebt))
    }))

  test("maxDebt changes for the asset and every wallet of it; below what a player owes it is 409 MAX_DEBT_IN_USE", async () => {
    const code = newCode()
    expect((await postJson(service, "/api/assets", { code, name: "Debt Coins", maxDebt: 100 })).status).toBe(201)
    const userId = await playerInDebt(code, 60)

    const refused = await patch(code, { name: "Not Applied", maxDebt: 59 })
    expect(refused).toMatchObject({
      status: 409,
      body: { code: "MAX_DEBT_IN_USE", assetCode: code, maxDebt: 59, largestDebt: 60 }
    })
    expect(String(refused.body.message)).toContain("owes 60")
    // Nothing of the refused change was applied, the name neither.
    expect((await getJson(service, "/api/assets")).body.assets).toContainEqual(expect.objectContaining({ code, name: "Debt Coins", maxDebt: 100 }))
    expect(await walletMaxDebts(code)).toEqual([100])

    // Through the typed client the refusal is its tagged error.
    const typed = await service.run(Effect.flip(service.client.assets.update({
      path: { code: AssetCode.make(code) },
      payload: AssetUpdate.make({ maxDebt: 0 })
    })))
    expect(typed).toMatchObject({ _tag: "MaxDebtInUse", code: "MAX_DEBT_IN_USE", largestDebt: 60 })

    // Down to exactly the debt is allowed, and every wallet (the treasury's too) follows.
    const lowered = await patch(code, { maxDebt: 60 })
    expect(lowered).toMatchObject({ status: 200, body: { code, name: "Debt Coins", maxDebt: 60 } })
    expect((await getJson(service, "/api/assets")).body.assets).toContainEqual(lowered.body)
    expect(await walletMaxDebts(code)).toEqual([60])

    // The new floor holds for writes: paid 100 and spent back to 0, reversing the payment would
    // owe 100, past the new limit; once the limit is raised, the same reversal goes through.
    const credit = await postJson(service, "/api/wallets/topup", { userId, assetCode: code, amount: 100, idempotencyKey: uniqueKey() })
    expect(credit).toMatchObject({ status: 201, body: { balance: 40 } })
    const spent = await postJson(service, "/api/wallets/spend", { userId, assetCode: code, amount: 40, idempotencyKey: uniqueKey() })
    expect(spent).toMatchObject({ status: 201, body: { balance: 0 } })
    const reverseCredit = () =>
      postJson(service, `/api/transactions/${credit.body.transactionId}/reversal`, { allowDebt: true, idempotencyKey: uniqueKey() })
    expect(await reverseCredit()).toMatchObject({ status: 409, body: { code: "DEBT_LIMIT", maxDebt: 60 } })

    // Raising it needs nobody's consent; both fields at once.
    const raised = await patch(code, { name: "Deep Debt Coins", maxDebt: 500 })
    expect(raised).toMatchObject({ status: 200, body: { code, name: "Deep Debt Coins", maxDebt: 500 } })
    expect(await walletMaxDebts(code)).toEqual([500])
    expect(await reverseCredit()).toMatchObject({ status: 201 })
    expect((await getJson(service, `/api/wallets/${userId}/balance?assetCode=${code}`)).body.balance).toBe(-100)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("an asset nobody owes can drop to maxDebt 0", async () => {
    const code = newCode()
    expect((await postJson(service, "/api/assets", { code, name: "Loose", maxDebt: 30 })).status).toBe(201)
    const userId = await newPlayer(service, "asset_none")
    const paid = await postJson(service, "/api/wallets/topup", { userId, assetCode: code, amount: 5, idempotencyKey: uniqueKey() })
    expect(paid.status).toBe(201)
    expect(await patch(code, { maxDebt: 0 })).toMatchObject({ status: 200, body: { maxDebt: 0 } })
    expect(await walletMaxDebts(code)).toEqual([0])
  })

  test("maxDebt changes while players of the asset write: every request answers 2xx, and the ledger holds", async () => {
    const code = newCode()
    expect((await postJson(service, "/api/assets", { code, name: "Busy", maxDebt: 100 })).status).toBe(201)
    const players = await Promise.all(Array.from({ length: 6 }, () => newPlayer(service, "asset_busy")))
    const writes = players.flatMap((userId) =>
      Array.from({ length: 5 }, (_, i) =>
        postJson(service, "/api/wallets/topup", { userId, assetCode: code, amount: i + 1, idempotencyKey: uniqueKey() })
      )
    )
    const changes = Array.from({ length: 8 }, (_, i) => patch(code, { maxDebt: i % 2 === 0 ? 200 : 100 }))
    const statuses = [...(await Promise.all(writes)).map((r) => r.status), ...(await Promise.all(changes)).map((r) => r.status)]
    expect(statuses.filter((status) => status !== 200 && status !== 201)).toEqual([])
    // Whichever change came last, every wallet holds the asset's limit.
    const listed = ((await getJson(service, "/api/assets")).body.assets as Array<{ code: string; maxDebt: number }>).find((a) => a.code === code)
    expect([100, 200]).toContain(listed?.maxDebt ?? -1)
    expect(await walletMaxDebts(code)).toEqual([listed?.maxDebt ?? -1])
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })
})

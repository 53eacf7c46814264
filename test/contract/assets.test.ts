import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { NewAsset } from "../../src/domain/Asset.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

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

  test("a name out of bounds, or none, is 400 and changes nothing", async () => {
    for (const body of [{ name: "" }, { name: "x".repeat(101) }, {}, { name: 5 }]) {
      const answer = await patch("DIAMONDS", body)
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({ body, status: 400, code: "VALIDATION_ERROR" })
    }
    expect((await getJson(service, "/api/assets")).body.assets).toContainEqual(expect.objectContaining({ code: "DIAMONDS", name: "Diamonds" }))
  })
})

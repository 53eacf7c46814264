import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { transferRequest } from "../support/Requests.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/** POST /api/wallets/transfer: one asset from one player to another, idempotent like every write. */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const newUser = (label: string, gold = 0) => newPlayer(service, label, gold)

const transfer = (fields: Parameters<typeof transferRequest>[0]) =>
  service.run(service.client.wallets.transfer({ payload: transferRequest(fields), headers: {} }))

const refused = (fields: Parameters<typeof transferRequest>[0]) =>
  service.run(Effect.flip(service.client.wallets.transfer({ payload: transferRequest(fields), headers: {} })))

describe("transfers through the typed client", () => {
  test("moves the amount from one player to the other and returns both balances", async () => {
    const from = await newUser("payer", 300)
    const to = await newUser("payee", 20)
    const receipt = await transfer({
      fromUserId: from,
      toUserId: to,
      assetCode: "GOLD_COINS",
      amount: 120,
      idempotencyKey: uniqueKey(),
      description: "Gift",
      metadata: { giftId: "G-1" }
    })
    expect(receipt).toMatchObject({
      type: "TRANSFER",
      fromUserId: from,
      toUserId: to,
      assetCode: "GOLD_COINS",
      amount: 120,
      fromBalance: 180,
      toBalance: 140,
      description: "Gift",
      metadata: { giftId: "G-1" }
    })
    expect(receipt.createdAt).toBeInstanceOf(Date)
    expect(await service.run(balanceOf(from, "GOLD_COINS"))).toBe(180)
    expect(await service.run(balanceOf(to, "GOLD_COINS"))).toBe(140)

    const found = await service.run(service.client.transactions.get({ path: { transactionId: receipt.transactionId } }))
    expect(found.type).toBe("TRANSFER")
    expect(found.legs).toEqual([{ fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 120 }] as never)
    expect(found.entries.map((e) => [e.userId, e.entryType, e.amount, e.balanceAfter])).toEqual([
      [from, "DEBIT", 120, 180],
      [to, "CREDIT", 120, 140]
    ] as never)
    expect(found.metadata).toEqual({ giftId: "G-1" })

    const search = await service.run(service.client.transactions.search({ urlParams: { userId: to, type: "TRANSFER" } }))
    expect(search.items.map((item) => item.transactionId)).toEqual([receipt.transactionId])
    const history = await getJson(service, `/api/wallets/${from}/transactions?limit=1`)
    expect(history.body.items).toMatchObject([{ type: "TRANSFER", entryType: "DEBIT", amount: 120, balanceAfter: 180 }])
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("more than the sender has is INSUFFICIENT_FUNDS, stored under the key and replayed", async () => {
    const from = await newUser("short", 50)
    const to = await newUser("waiting")
    const key = uniqueKey()
    const error = await refused({ fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 51, idempotencyKey: key })
    expect(error).toMatchObject({ _tag: "InsufficientFunds", code: "INSUFFICIENT_FUNDS", userId: from, balance: 50, amount: 51 })
    expect("legIndex" in error).toBe(false)
    // Funded since, the same request under the same key is still its first answer.
    await postJson(service, "/api/wallets/topup", { userId: from, assetCode: "GOLD_COINS", amount: 10, idempotencyKey: uniqueKey() })
    const replay = await postJson(service, "/api/wallets/transfer", { fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 51 }, {
      "idempotency-key": key
    })
    expect(replay.status).toBe(409)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    expect(replay.body).toMatchObject({ code: "INSUFFICIENT_FUNDS", balance: 50 })
    expect(await service.run(balanceOf(to, "GOLD_COINS"))).toBe(0)
  })

  test("from = to is 422 SAME_WALLET, not stored: the key is free for the corrected request", async () => {
    const user = await newUser("self", 10)
    const other = await newUser("other")
    const key = uniqueKey()
    expect(await refused({ fromUserId: user, toUserId: user, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })).toMatchObject({
      _tag: "SameWallet",
      code: "SAME_WALLET",
      userId: user
    })
    const fixed = await transfer({ fromUserId: user, toUserId: other, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })
    expect(fixed.toBalance).toBe(1)
  })

  test("the treasury on either side is 422 SYSTEM_ACCOUNT, not stored", async () => {
    const user = await newUser("near_treasury", 10)
    const key = uniqueKey()
    expect(await refused({ fromUserId: 1, toUserId: user, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })).toMatchObject({
      _tag: "SystemAccount",
      code: "SYSTEM_ACCOUNT",
      userId: 1
    })
    expect(await refused({ fromUserId: user, toUserId: 1, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })).toMatchObject({
      _tag: "SystemAccount",
      userId: 1
    })
    expect(await service.run(balanceOf(user, "GOLD_COINS"))).toBe(10)
  })

  test("an unknown user on either side or an unknown asset is 404, not stored", async () => {
    const user = await newUser("lonely", 10)
    const key = uniqueKey()
    expect(await refused({ fromUserId: 999_999, toUserId: user, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })).toMatchObject({
      _tag: "UserNotFound",
      userId: 999_999
    })
    expect(await refused({ fromUserId: user, toUserId: 999_998, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })).toMatchObject({
      _tag: "UserNotFound",
      userId: 999_998
    })
    expect(await refused({ fromUserId: user, toUserId: 2, assetCode: "NOPE", amount: 1, idempotencyKey: key })).toMatchObject({
      _tag: "AssetNotFound",
      code: "ASSET_NOT_FOUND",
      assetCode: "NOPE"
    })
    expect((await transfer({ fromUserId: user, toUserId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key })).fromBalance).toBe(9)
  })
})

describe("transfer idempotency", () => {
  test("a replay is the first response byte for byte; another body, or another endpoint, under the key is 422", async () => {
    const from = await newUser("replayer", 100)
    const to = await newUser("replayee")
    const key = uniqueKey()
    const body = { fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 7, idempotencyKey: key, metadata: { b: "2", a: "1" } }
    const first = await postJson(service, "/api/wallets/transfer", body)
    expect(first.status).toBe(201)
    expect(first.headers.get("idempotent-replayed")).toBeNull()
    // The same metadata in another key order is the same request.
    const second = await postJson(service, "/api/wallets/transfer", { ...body, metadata: { a: "1", b: "2" } })
    expect(second.status).toBe(201)
    expect(second.headers.get("idempotent-replayed")).toBe("true")
    expect(second.text).toBe(first.text)
    expect(await service.run(balanceOf(to, "GOLD_COINS"))).toBe(7)

    const other = await postJson(service, "/api/wallets/transfer", { ...body, amount: 8 })
    expect(other.status).toBe(422)
    expect(other.body.code).toBe("IDEMPOTENCY_KEY_REUSED")
    const elsewhere = await postJson(service, "/api/wallets/spend", { userId: from, assetCode: "GOLD_COINS", amount: 7, idempotencyKey: key })
    expect(elsewhere.status).toBe(422)
    expect(elsewhere.body.code).toBe("IDEMPOTENCY_KEY_REUSED")
  })

  test("the key in the Idempotency-Key header; missing or conflicting keys are 400", async () => {
    const from = await newUser("header", 10)
    const to = await newUser("header_to")
    const key = uniqueKey()
    const receipt = await service.run(service.client.wallets.transfer({
      payload: transferRequest({ fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 2 }),
      headers: { "idempotency-key": key as never }
    }))
    expect(receipt.toBalance).toBe(2)
    const body = { fromUserId: from, toUserId: to, assetCode: "GOLD_COINS", amount: 2 }
    const missing = await postJson(service, "/api/wallets/transfer", body)
    expect([missing.status, missing.body.code]).toEqual([400, "IDEMPOTENCY_KEY_MISSING"])
    const conflict = await postJson(service, "/api/wallets/transfer", { ...body, idempotencyKey: "a" }, { "idempotency-key": "b" })
    expect([conflict.status, conflict.body.code]).toEqual([400, "IDEMPOTENCY_KEY_CONFLICT"])
  })
})

describe("malformed transfers", () => {
  test("are 400 VALIDATION_ERROR naming the field, and write nothing", async () => {
    const valid = { fromUserId: 2, toUserId: 3, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() }
    for (const [field, value] of [
      ["amount", 0],
      ["amount", "5"],
      ["amount", 1.5],
      ["fromUserId", -1],
      ["toUserId", null],
      ["metadata", { "bad key": "x" }]
    ] as const) {
      const response = await postJson(service, "/api/wallets/transfer", { ...valid, [field]: value })
      expect(response.status).toBe(400)
      expect(response.body.code).toBe("VALIDATION_ERROR")
      expect(JSON.stringify(response.body.issues)).toContain(field)
    }
    const notJson = await postJson(service, "/api/wallets/transfer", "{not json")
    expect([notJson.status, notJson.body.code]).toEqual([400, "MALFORMED_JSON"])
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })
})

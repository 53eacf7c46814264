import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { MaxAmount } from "../../src/domain/Limits.ts"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { multiLegJson, multiLegRequest, type PlainLeg } from "../support/Requests.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/** POST /api/transactions: legs applied in order, all or none, idempotent like every write. */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const newUser = (label: string, gold = 0) => newPlayer(service, label, gold)

const transact = (legs: ReadonlyArray<PlainLeg>, fields: Parameters<typeof multiLegRequest>[1] = {}) =>
  service.run(service.client.transactions.create({ payload: multiLegRequest(legs, { idempotencyKey: uniqueKey(), ...fields }), headers: {} }))

const refused = (legs: ReadonlyArray<PlainLeg>, key = uniqueKey()) =>
  service.run(Effect.flip(service.client.transactions.create({ payload: multiLegRequest(legs, { idempotencyKey: key }), headers: {} })))

const balances = (userId: number) =>
  Promise.all(["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"].map((asset) => service.run(balanceOf(userId, asset))))

describe("multi-leg transactions through the typed client", () => {
  test("a purchase with a price, a fee and a reward: legs in order, several assets, the treasury as a side", async () => {
    const buyer = await newUser("buyer", 100)
    const seller = await newUser("seller")
    const receipt = await transact([
      [buyer, seller, "GOLD_COINS", 90], // the price
      [buyer, 1, "GOLD_COINS", 10], // the fee, to the treasury
      [1, buyer, "LOYALTY_POINTS", 5] // the reward, from the treasury
    ], { description: "Market sale", metadata: { orderId: "M-1" } })
    expect(receipt.type).toBe("TRANSACTION")
    expect(receipt.description).toBe("Market sale")
    expect(receipt.metadata).toEqual({ orderId: "M-1" })
    expect(receipt.legs.map((leg) => [leg.fromUserId, leg.toUserId, leg.assetCode, leg.amount, leg.fromBalance, leg.toBalance])).toEqual([
      [buyer, seller, "GOLD_COINS", 90, 10, 90],
      [buyer, 1, "GOLD_COINS", 10, 0, expect.any(Number)],
      [1, buyer, "LOYALTY_POINTS", 5, expect.any(Number), 5]
    ] as never)
    expect(await balances(buyer)).toEqual([0, 0, 5])
    expect(await balances(seller)).toEqual([90, 0, 0])

    const found = await service.run(service.client.transactions.get({ path: { transactionId: receipt.transactionId } }))
    expect(found.type).toBe("TRANSACTION")
    expect(found.legs).toEqual([
      { fromUserId: buyer, toUserId: seller, assetCode: "GOLD_COINS", amount: 90 },
      { fromUserId: buyer, toUserId: 1, assetCode: "GOLD_COINS", amount: 10 },
      { fromUserId: 1, toUserId: buyer, assetCode: "LOYALTY_POINTS", amount: 5 }
    ] as never)
    expect(found.entries).toHaveLength(6)
    const byType = await service.run(service.client.transactions.search({ urlParams: { userId: buyer, type: "TRANSACTION" } }))
    expect(byType.items.map((item) => item.transactionId)).toEqual([receipt.transactionId])
    const byMetadata = await getJson(service, "/api/transactions?metadata[orderId]=M-1&assetCode=LOYALTY_POINTS")
    expect((byMetadata.body.items as Array<{ transactionId: string }>).map((item) => item.transactionId)).toEqual([receipt.transactionId])
    const reconciliation = await getJson(service, "/api/reconciliation")
    expect(reconciliation.body.ok).toBe(true)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("each leg sees the balances the ones before it left; a wallet may come back", async () => {
    const a = await newUser("relay_a")
    const b = await newUser("relay_b")
    // a has nothing until the first leg credits it; then it passes the coins on, and gets some back.
    const receipt = await transact([
      [1, a, "GOLD_COINS", 40],
      [a, b, "GOLD_COINS", 40],
      [b, a, "GOLD_COINS", 15],
      [b, a, "GOLD_COINS", 25]
    ])
    expect(receipt.legs.map((leg) => [leg.fromBalance, leg.toBalance]).slice(1)).toEqual([[0, 40], [25, 15], [0, 40]])
    expect(await balances(a)).toEqual([40, 0, 0])
    const found = await service.run(service.client.transactions.get({ path: { transactionId: receipt.transactionId } }))
    // Each wallet's last entry carries its balance.
    expect(found.entries.filter((e) => e.userId === a).at(-1)!.balanceAfter).toBe(40)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("one refused leg writes nothing; the error names it, and is stored when it is a money rule", async () => {
    const a = await newUser("partial", 30)
    const b = await newUser("partial_b")
    const key = uniqueKey()
    const legs: Array<PlainLeg> = [[a, b, "GOLD_COINS", 20], [1, b, "DIAMONDS", 3], [a, b, "GOLD_COINS", 11]]
    const error = await refused(legs, key)
    expect(error).toMatchObject({ _tag: "InsufficientFunds", code: "INSUFFICIENT_FUNDS", userId: a, balance: 10, amount: 11, legIndex: 2 })
    expect(await balances(a)).toEqual([30, 0, 0])
    expect(await balances(b)).toEqual([0, 0, 0])
    const replay = await postJson(service, "/api/transactions", multiLegJson(legs, { idempotencyKey: key }))
    expect(replay.status).toBe(409)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    expect(replay.body).toMatchObject({ code: "INSUFFICIENT_FUNDS", legIndex: 2 })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("the treasury cannot issue past 2^53 - 1: BALANCE_LIMIT with the leg", async () => {
    const a = await newUser("whale")
    const error = await refused([[1, a, "DIAMONDS", 1], [1, a, "DIAMONDS", MaxAmount]])
    expect(error).toMatchObject({ _tag: "BalanceLimit", code: "BALANCE_LIMIT", legIndex: 1 })
    expect(await balances(a)).toEqual([0, 0, 0])
  })

  test("same user on both sides, an unknown user or asset: 422 or 404 naming the leg, nothing stored", async () => {
    const a = await newUser("checked", 10)
    const key = uniqueKey()
    expect(await refused([[a, 2, "GOLD_COINS", 1], [a, a, "GOLD_COINS", 1]], key)).toMatchObject({
      _tag: "SameWallet",
      code: "SAME_WALLET",
      userId: a,
      legIndex: 1
    })
    expect(await refused([[a, 2, "GOLD_COINS", 1], [2, 999_999, "GOLD_COINS", 1]], key)).toMatchObject({
      _tag: "UserNotFound",
      userId: 999_999,
      legIndex: 1
    })
    expect(await refused([[a, 2, "NOPE", 1]], key)).toMatchObject({ _tag: "AssetNotFound", assetCode: "NOPE", legIndex: 0 })
    // None of them was stored: the key takes the corrected request.
    const fixed = await service.run(service.client.transactions.create({
      payload: multiLegRequest([[a, 2, "GOLD_COINS", 1]], { idempotencyKey: key }),
      headers: {}
    }))
    expect(fixed.legs[0]!.fromBalance).toBe(9)
  })
})

describe("multi-leg idempotency", () => {
  test("a replay is the first response byte for byte; other legs under the key are 422", async () => {
    const a = await newUser("ml_replay", 50)
    const key = uniqueKey()
    const legs: Array<PlainLeg> = [[a, 2, "GOLD_COINS", 5], [a, 3, "GOLD_COINS", 5]]
    const first = await postJson(service, "/api/transactions", multiLegJson(legs), { "idempotency-key": key })
    expect(first.status).toBe(201)
    const second = await postJson(service, "/api/transactions", multiLegJson(legs, { idempotencyKey: key }))
    expect(second.status).toBe(201)
    expect(second.headers.get("idempotent-replayed")).toBe("true")
    expect(second.text).toBe(first.text)
    expect(await service.run(balanceOf(a, "GOLD_COINS"))).toBe(40)
    // The legs' order is part of the request.
    const reordered = await postJson(service, "/api/transactions", multiLegJson([legs[1]!, legs[0]!], { idempotencyKey: key }))
    expect([reordered.status, reordered.body.code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"])
    const asTransfer = await postJson(service, "/api/wallets/transfer", { fromUserId: a, toUserId: 2, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: key })
    expect([asTransfer.status, asTransfer.body.code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"])
  })
})

describe("the contract", () => {
  test("the OpenAPI document has both new writes with their errors", async () => {
    const doc = await getJson(service, "/api/openapi.json")
    const paths = doc.body.paths as Record<string, Record<string, { responses: Record<string, unknown> }>>
    expect(Object.keys(paths["/api/transactions"]!)).toEqual(expect.arrayContaining(["get", "post"]))
    expect(Object.keys(paths["/api/transactions"]!.post!.responses)).toEqual(expect.arrayContaining(["201", "400", "404", "409", "422"]))
    expect(Object.keys(paths["/api/wallets/transfer"]!.post!.responses)).toEqual(expect.arrayContaining(["201", "400", "404", "409", "422"]))
    expect(JSON.stringify(doc.body)).toContain("SAME_WALLET")
  })
})

describe("malformed multi-leg transactions", () => {
  test("no legs, 101 legs, a bad leg or no key: 400, nothing written", async () => {
    const leg: PlainLeg = [2, 3, "GOLD_COINS", 1]
    const none = await postJson(service, "/api/transactions", multiLegJson([], { idempotencyKey: uniqueKey() }))
    expect([none.status, none.body.code]).toEqual([400, "VALIDATION_ERROR"])
    const tooMany = await postJson(service, "/api/transactions", multiLegJson(Array(101).fill(leg), { idempotencyKey: uniqueKey() }))
    expect([tooMany.status, tooMany.body.code]).toEqual([400, "VALIDATION_ERROR"])
    const bad = await postJson(service, "/api/transactions", multiLegJson([leg, [2, 3, "GOLD_COINS", 0]], { idempotencyKey: uniqueKey() }))
    expect([bad.status, bad.body.code]).toEqual([400, "VALIDATION_ERROR"])
    expect(JSON.stringify(bad.body.issues)).toContain('["legs",1,"amount"]')
    const notAList = await postJson(service, "/api/transactions", { legs: { 0: leg }, idempotencyKey: uniqueKey() })
    expect(notAList.status).toBe(400)
    const noKey = await postJson(service, "/api/transactions", multiLegJson([leg]))
    expect([noKey.status, noKey.body.code]).toEqual([400, "IDEMPOTENCY_KEY_MISSING"])
    // A hundred legs is the limit, not past it.
    const hundred = await postJson(service, "/api/transactions", multiLegJson(Array(100).fill([1, 2, "LOYALTY_POINTS", 1]), { idempotencyKey: uniqueKey() }))
    expect(hundred.status).toBe(201)
    expect((hundred.body.legs as Array<unknown>)).toHaveLength(100)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import fc from "fast-check"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * POST /api/wallets/batch: independent writes in one request, each answered as its single
 * endpoint would have answered it.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

interface Result {
  readonly index: number
  readonly status: number
  readonly body: Record<string, unknown>
}

const results = (response: { body: Record<string, unknown> }) => response.body.results as Array<Result>

describe("the bulk endpoint", () => {
  test("each item gets its own answer, in item order", async () => {
    const spendKey = uniqueKey("spend")
    const response = await postJson(service, "/api/wallets/batch", {
      items: [
        { type: "TOPUP", userId: 3, assetCode: "DIAMONDS", amount: 5, idempotencyKey: uniqueKey(), description: "prize" },
        { type: "SPEND", userId: 3, assetCode: "DIAMONDS", amount: 1_000, idempotencyKey: uniqueKey() },
        { type: "BONUS", userId: 999, assetCode: "DIAMONDS", amount: 5, idempotencyKey: uniqueKey() },
        { type: "BONUS", userId: 3, assetCode: "RUBIES", amount: 5, idempotencyKey: uniqueKey() },
        { type: "BONUS", userId: 1, assetCode: "DIAMONDS", amount: 5, idempotencyKey: uniqueKey() },
        { type: "SPEND", userId: 3, assetCode: "DIAMONDS", amount: 25, idempotencyKey: spendKey },
        { type: "SPEND", userId: 3, assetCode: "DIAMONDS", amount: 25, idempotencyKey: spendKey },
        { type: "SPEND", userId: 3, assetCode: "DIAMONDS", amount: 26, idempotencyKey: spendKey }
      ]
    })
    expect(response.status).toBe(200)
    const answered = results(response)
    expect(answered.map((r) => [r.index, r.status, r.body.code ?? r.body.type])).toEqual([
      [0, 201, "TOPUP"],
      [1, 409, "INSUFFICIENT_FUNDS"],
      [2, 404, "USER_NOT_FOUND"],
      [3, 404, "ASSET_NOT_FOUND"],
      [4, 422, "SYSTEM_ACCOUNT"],
      [5, 201, "SPEND"],
      [6, 201, "SPEND"],
      [7, 422, "IDEMPOTENCY_KEY_REUSED"]
    ])
    expect(answered[0]!.body).toMatchObject({ userId: 3, assetCode: "DIAMONDS", amount: 5, balance: 25, description: "prize" })
    expect(answered[1]!.body).toMatchObject({ _tag: "InsufficientFunds", balance: 25, amount: 1_000 })
    // The repeat of the spend's key is its replay: the same transaction.
    expect(answered[6]!.body).toEqual(answered[5]!.body)
    expect(answered[5]!.body.balance).toBe(0)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a replayed item has the body its single endpoint stored", async () => {
    const key = uniqueKey("replay")
    const single = await postJson(service, "/api/wallets/bonus", { userId: 2, assetCode: "LOYALTY_POINTS", amount: 3, idempotencyKey: key })
    expect(single.status).toBe(201)
    const bulk = await postJson(service, "/api/wallets/batch", {
      items: [{ type: "BONUS", userId: 2, assetCode: "LOYALTY_POINTS", amount: 3, idempotencyKey: key }]
    })
    expect(results(bulk)).toEqual([{ index: 0, status: 201, body: single.body }])
  })

  test("a malformed item is a 400 naming its index, and nothing is applied", async () => {
    const before = await getJson(service, "/api/wallets/2/balance?assetCode=GOLD_COINS")
    const response = await postJson(service, "/api/wallets/batch", {
      items: [
        { type: "TOPUP", userId: 2, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: uniqueKey() },
        { type: "TOPUP", userId: 2, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: uniqueKey() },
        { type: "TOPUP", userId: 2, assetCode: "GOLD_COINS", amount: -5, idempotencyKey: uniqueKey() }
      ]
    })
    expect(response.status).toBe(400)
    expect(response.body.code).toBe("VALIDATION_ERROR")
    expect((response.body.issues as Array<{ path: Array<unknown> }>)[0]!.path).toEqual(["items", 2, "amount"])
    expect((await getJson(service, "/api/wallets/2/balance?assetCode=GOLD_COINS")).body).toEqual(before.body)
  })

  test("1 to 1,000 items, each with its own key and a known type", async () => {
    const item = () => ({ type: "BONUS", userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() })
    expect((await postJson(service, "/api/wallets/batch", { items: [] })).status).toBe(400)
    const tooMany = await postJson(service, "/api/wallets/batch", { items: Array.from({ length: 1001 }, item) })
    expect(tooMany.status).toBe(400)
    const { idempotencyKey: _, ...keyless } = item()
    expect((await postJson(service, "/api/wallets/batch", { items: [keyless] })).status).toBe(400)
    expect((await postJson(service, "/api/wallets/batch", { items: [{ ...item(), type: "GENESIS" }] })).status).toBe(400)
    const full = await postJson(service, "/api/wallets/batch", { items: Array.from({ length: 1000 }, item) })
    expect(full.status).toBe(200)
    expect(results(full).every((r) => r.status === 201)).toBe(true)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })
})

/**
 * Everything an answer says but the ids and times the ledger picks, and the id of the request
 * that answered (a single error body names its request; a bulk item's is its bulk request's).
 */
const comparable = ({ body, index, status }: Result) => {
  const { createdAt: _c, transactionId: _t, requestId: _r, ...rest } = body
  return { index, status, body: rest }
}

const types = ["TOPUP", "BONUS", "SPEND"] as const
const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const

describe("a bulk request equals the same items sent one by one, in order", () => {
  // Two services over databases in the same state: one takes each plan in bulk, the other one by one.
  let bulkService: TestService
  let oneByOne: TestService
  beforeAll(async () => {
    ;[bulkService, oneByOne] = await Promise.all([startService(), startService()])
  })
  afterAll(() => Promise.all([bulkService.dispose(), oneByOne.dispose()]))

  test("property", async () => {
    let run = 0
    const itemArbitrary = fc.record({
      type: fc.constantFrom(...types),
      userId: fc.constantFrom(2, 3, 999),
      assetCode: fc.constantFrom(...assets),
      amount: fc.integer({ min: 1, max: 700 }),
      key: fc.nat({ max: 6 })
    })
    await fc.assert(
      fc.asyncProperty(fc.array(itemArbitrary, { minLength: 1, maxLength: 25 }), async (generated) => {
        const prefix = uniqueKey(`eq${++run}`)
        const items = generated.map(({ key, ...item }) => ({ ...item, idempotencyKey: `${prefix}-${key}` }))
        const bulk = await postJson(bulkService, "/api/wallets/batch", { items })
        expect(bulk.status).toBe(200)
        const single: Array<Result> = []
        for (const [index, { type, ...body }] of items.entries()) {
          const answer = await postJson(oneByOne, `/api/wallets/${type.toLowerCase()}`, body)
          single.push({ index, status: answer.status, body: answer.body })
        }
        expect(results(bulk).map(comparable)).toEqual(single.map(comparable))
      }),
      { numRuns: 25, endOnFailure: true }
    )
    expect(await bulkService.run(ledgerViolations)).toEqual(noViolations)
    expect(await oneByOne.run(ledgerViolations)).toEqual(noViolations)
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const createUser = async () => {
  const response = await postJson(service, "/api/users", { username: `lookup_${uniqueKey("u").replace(/-/g, "_")}` })
  expect(response.status).toBe(201)
  return response.body.userId as number
}

const write = async (path: string, userId: number, assetCode: string, amount: number, description?: string) => {
  const response = await postJson(service, `/api/wallets/${path}`, { userId, assetCode, amount, idempotencyKey: uniqueKey(), description })
  expect(response.status).toBe(201)
  return response.body as { transactionId: string; createdAt: string }
}

describe("transaction lookups", () => {
  test("GET /api/transactions/{id}: the transaction, its leg and both entries", async () => {
    const userId = await createUser()
    const receipt = await write("topup", userId, "GOLD_COINS", 250, "Order 17")
    const found = await service.run(service.client.transactions.get({ path: { transactionId: receipt.transactionId as never } }))
    expect(found.transactionId).toBe(receipt.transactionId as never)
    expect(found).toMatchObject({ type: "TOPUP", description: "Order 17" })
    expect(found.createdAt.toISOString()).toBe(receipt.createdAt as string)
    expect(found.legs).toEqual([{ fromUserId: 1, toUserId: userId, assetCode: "GOLD_COINS", amount: 250 }] as never)
    expect(found.entries.map((e) => [e.userId, e.entryType, e.assetCode, e.amount])).toEqual([
      [1, "DEBIT", "GOLD_COINS", 250],
      [userId, "CREDIT", "GOLD_COINS", 250]
    ] as never)
    expect(found.entries[1]!.balanceAfter).toBe(250)
    expect(found.entries[0]!.entryId).toBeLessThan(found.entries[1]!.entryId)
  })

  test("an unknown id is 404 TRANSACTION_NOT_FOUND; one that is not a UUID is 400", async () => {
    const missing = await getJson(service, "/api/transactions/00000000-0000-4000-8000-000000000000")
    expect(missing).toMatchObject({ status: 404, body: { code: "TRANSACTION_NOT_FOUND" } })
    for (const bad of ["nope", "1", "00000000-0000-4000-8000-00000000000g"]) {
      expect((await getJson(service, `/api/transactions/${bad}`)).status).toBe(400)
    }
  })

  test("a user's transactions: newest first, filtered by asset, type and time, paged by cursor without gaps", async () => {
    const userId = await createUser()
    const gold1 = await write("topup", userId, "GOLD_COINS", 100)
    await Bun.sleep(15)
    const diamonds = await write("bonus", userId, "DIAMONDS", 3)
    await Bun.sleep(15)
    const gold2 = await write("spend", userId, "GOLD_COINS", 40)
    const search = async (query: Record<string, string>) => {
      const response = await getJson(service, `/api/transactions?${new URLSearchParams({ userId: String(userId), ...query })}`)
      expect(response.status).toBe(200)
      return response.body as { items: Array<{ transactionId: string; type: string }>; limit: number; nextCursor: string | null }
    }
    const ids = (page: { items: Array<{ transactionId: string }> }) => page.items.map((i) => i.transactionId)

    expect(ids(await search({}))).toEqual([gold2.transactionId, diamonds.transactionId, gold1.transactionId])
    expect(ids(await search({ assetCode: "GOLD_COINS" }))).toEqual([gold2.transactionId, gold1.transactionId])
    expect(ids(await search({ type: "BONUS" }))).toEqual([diamonds.transactionId])
    const afterFirst = new Date(new Date(gold1.createdAt as string).getTime() + 1).toISOString()
    const atSecond = new Date(diamonds.createdAt as string).toISOString()
    expect(ids(await search({ from: afterFirst }))).toEqual([gold2.transactionId, diamonds.transactionId])
    expect(ids(await search({ to: atSecond }))).toEqual([gold1.transactionId])

    const seen: Array<string> = []
    let cursor: string | null = null
    do {
      const page = await search({ limit: "1", ...(cursor === null ? {} : { cursor }) })
      expect(page.items.length).toBe(1)
      seen.push(...ids(page))
      cursor = page.nextCursor
    } while (cursor !== null)
    expect(seen).toEqual([gold2.transactionId, diamonds.transactionId, gold1.transactionId])
  })

  test("by metadata across users, alone or with userId, paged by its own cursor", async () => {
    const [alice, bob] = [await createUser(), await createUser()]
    const order = uniqueKey("order")
    const post = async (userId: number, metadata: Record<string, string>) => {
      const response = await postJson(service, "/api/wallets/topup", { userId, assetCode: "DIAMONDS", amount: 1, idempotencyKey: uniqueKey(), metadata })
      expect(response.status).toBe(201)
      return response.body.transactionId as string
    }
    const a1 = await post(alice, { orderId: order, shop: "web" })
    const b1 = await post(bob, { orderId: order, shop: "app" })
    const a2 = await post(alice, { orderId: order, shop: "app" })
    await post(alice, { orderId: `${order}-other` })
    const search = async (query: string) => {
      const response = await getJson(service, `/api/transactions?${query}`)
      expect({ query, status: response.status }).toEqual({ query, status: 200 })
      return response.body as { items: Array<{ transactionId: string; metadata: Record<string, string> }>; nextCursor: string | null }
    }
    const ids = (page: { items: Array<{ transactionId: string }> }) => page.items.map((i) => i.transactionId)
    const byOrder = `metadata[orderId]=${encodeURIComponent(order)}`

    expect(ids(await search(byOrder))).toEqual([a2, b1, a1])
    expect(ids(await search(`${byOrder}&metadata[shop]=app`))).toEqual([a2, b1])
    expect(ids(await search(`${byOrder}&userId=${alice}`))).toEqual([a2, a1])
    expect((await search(byOrder)).items[0]!.metadata).toEqual({ orderId: order, shop: "app" })
    expect(ids(await search("metadata[orderId]=nothing-has-this"))).toEqual([])

    const seen: Array<string> = []
    let cursor: string | null = null
    do {
      const page = await search(`${byOrder}&limit=2${cursor === null ? "" : `&cursor=${cursor}`}`)
      seen.push(...ids(page))
      cursor = page.nextCursor
    } while (cursor !== null)
    expect(seen).toEqual([a2, b1, a1])

    // A cursor of one kind of search does not continue the other.
    const byMetadataPage = await search(`${byOrder}&limit=1`)
    const mixed = await getJson(service, `/api/transactions?userId=${alice}&cursor=${byMetadataPage.nextCursor}`)
    expect(mixed).toMatchObject({ status: 400, body: { code: "VALIDATION_ERROR" } })
  })

  test("no userId, a bad filter or an unknown user is refused", async () => {
    expect(await getJson(service, "/api/transactions")).toMatchObject({ status: 400, body: { code: "VALIDATION_ERROR" } })
    for (const query of ["metadata[bad key]=1", `metadata[k]=${"x".repeat(257)}`, "metadata=x", "assetCode=GOLD_COINS"]) {
      const response = await getJson(service, `/api/transactions?${query}`)
      expect({ query, status: response.status, code: response.body.code }).toEqual({ query, status: 400, code: "VALIDATION_ERROR" })
    }
    for (const query of ["type=REFUND", "limit=0", "limit=101", "from=soon", "cursor=abc"]) {
      const response = await getJson(service, `/api/transactions?userId=2&${query}`)
      expect({ query, status: response.status }).toEqual({ query, status: 400 })
    }
    expect(await getJson(service, "/api/transactions?userId=99999999")).toMatchObject({ status: 404, body: { code: "USER_NOT_FOUND" } })
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { writeRequest } from "../support/Requests.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const topup = (body: Record<string, unknown>) =>
  postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 5, ...body })

describe("metadata", () => {
  test("kept with the transaction and returned in the receipt, the history and the lookup", async () => {
    const metadata = { orderId: "A-1001", "store.receipt": "gp:77", note: "" }
    const written = await topup({ idempotencyKey: uniqueKey(), metadata })
    expect(written.status).toBe(201)
    expect(written.body.metadata).toEqual(metadata)
    const transactionId = written.body.transactionId as string

    const history = await getJson(service, "/api/wallets/2/transactions?limit=1")
    expect((history.body.items as Array<Record<string, unknown>>)[0]).toMatchObject({ transactionId, metadata })
    const lookup = await service.run(service.client.transactions.get({ path: { transactionId: transactionId as never } }))
    expect(lookup.metadata).toEqual(metadata)
    const stored = await service.run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ metadata: unknown }>`SELECT metadata FROM transactions WHERE id = ${transactionId}`
    }))
    expect(stored[0]!.metadata).toEqual(metadata)
  })

  test("a write without metadata shows {}; the typed client sends and reads it", async () => {
    const plain = await topup({ idempotencyKey: uniqueKey() })
    expect(plain.body.metadata).toEqual({})
    const receipt = await service.run(service.client.wallets.bonus({
      payload: { ...writeRequest({ userId: 3, assetCode: "DIAMONDS", amount: 2, idempotencyKey: uniqueKey() }), metadata: { campaign: "winter" } },
      headers: {}
    }))
    expect(receipt.metadata).toEqual({ campaign: "winter" })
  })

  test("part of the fingerprint: same pairs in another order replay, other pairs are IDEMPOTENCY_KEY_REUSED", async () => {
    const key = uniqueKey()
    const first = await topup({ idempotencyKey: key, metadata: { a: "1", b: "2" } })
    expect(first.status).toBe(201)
    const reordered = await topup({ idempotencyKey: key, metadata: { b: "2", a: "1" } })
    expect(reordered.status).toBe(201)
    expect(reordered.headers.get("idempotent-replayed")).toBe("true")
    expect(reordered.text).toBe(first.text)
    for (const metadata of [{ a: "1", b: "3" }, { a: "1" }, undefined]) {
      const other = await topup({ idempotencyKey: key, metadata })
      expect({ metadata, status: other.status, code: other.body.code }).toEqual({ metadata, status: 422, code: "IDEMPOTENCY_KEY_REUSED" })
    }
    // No metadata and {} are the same request.
    const bare = uniqueKey()
    expect((await topup({ idempotencyKey: bare })).status).toBe(201)
    expect((await topup({ idempotencyKey: bare, metadata: {} })).headers.get("idempotent-replayed")).toBe("true")
  })

  test("in bulk items too", async () => {
    const response = await postJson(service, "/api/wallets/batch", {
      items: [{ type: "BONUS", userId: 2, assetCode: "LOYALTY_POINTS", amount: 1, idempotencyKey: uniqueKey(), metadata: { cup: "7" } }]
    })
    expect(response.status).toBe(200)
    const [result] = response.body.results as Array<{ status: number; body: Record<string, unknown> }>
    expect(result).toMatchObject({ status: 201, body: { metadata: { cup: "7" } } })
  })

  test("a malformed metadata object is 400 VALIDATION_ERROR and writes nothing", async () => {
    const seventeen = Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, "v"]))
    for (
      const metadata of [
        seventeen,
        { "bad key": "v" },
        { ["k".repeat(65)]: "v" },
        { "": "v" },
        { long: "x".repeat(257) },
        { number: 7 },
        { nested: { a: "b" } },
        { nul: "a\u0000b" },
        ["a"],
        "text",
        null
      ]
    ) {
      const key = uniqueKey()
      const response = await topup({ idempotencyKey: key, metadata })
      expect({ metadata, status: response.status, code: response.body.code }).toEqual({ metadata, status: 400, code: "VALIDATION_ERROR" })
    }
    const sixteen = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`k${i}`, "v".repeat(256)]))
    expect((await topup({ idempotencyKey: uniqueKey(), metadata: sixteen })).status).toBe(201)
  })

  test("the database refuses malformed metadata from any other writer", async () => {
    const attempt = (metadata: string) =>
      service.run(Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        yield* sql`INSERT INTO transactions (type, asset_code, amount, metadata) VALUES ('TOPUP', 'GOLD_COINS', 1, ${metadata}::jsonb)`
      }).pipe(Effect.flip, Effect.map((error) => String((error as { cause?: { message?: string } }).cause?.message ?? error))))
    for (const metadata of ['{"a": 1}', '{"bad key": "v"}', '[]', `{"long": "${"x".repeat(257)}"}`]) {
      expect(await attempt(metadata)).toMatch(/ledger_metadata_valid|transactions_metadata_check/)
    }
  })
})

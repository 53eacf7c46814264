import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { MaxAmount } from "../../src/domain/Limits.ts"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { writeRequest } from "../support/Requests.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const newUser = async (label: string) => {
  const created = await service.run(
    service.client.users.create({ payload: { username: `${label}_${uniqueKey("u").replace(/-/g, "_")}` as never } })
  )
  return created.userId
}

describe("topup, bonus and spend through the typed client", () => {
  test("a topup credits the player from the treasury and returns a receipt", async () => {
    const key = uniqueKey()
    const receipt = await service.run(
      service.client.wallets.topup({
        payload: writeRequest({ userId: 2, assetCode: "GOLD_COINS", amount: 500, idempotencyKey: key, description: "Shop order 1" }),
        headers: {}
      })
    )
    expect(receipt.type).toBe("TOPUP")
    expect(receipt.userId).toBe(2 as never)
    expect(receipt.amount).toBe(500 as never)
    expect(receipt.balance).toBe(1500)
    expect(receipt.description).toBe("Shop order 1")
    expect(receipt.createdAt).toBeInstanceOf(Date)
    expect(receipt.transactionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(await service.run(balanceOf(1, "GOLD_COINS"))).toBe(-2000)
  })

  test("a bonus credits the player; a spend debits the player and credits the treasury", async () => {
    const userId = await newUser("bonus")
    const bonus = await service.run(
      service.client.wallets.bonus({ payload: writeRequest({ userId, assetCode: "DIAMONDS", amount: 30, idempotencyKey: uniqueKey() }), headers: {} })
    )
    expect(bonus).toMatchObject({ type: "BONUS", balance: 30 })
    const treasuryBefore = await service.run(balanceOf(1, "DIAMONDS"))
    const spend = await service.run(
      service.client.wallets.spend({ payload: writeRequest({ userId, assetCode: "DIAMONDS", amount: 12, idempotencyKey: uniqueKey() }), headers: {} })
    )
    expect(spend).toMatchObject({ type: "SPEND", balance: 18 })
    expect(await service.run(balanceOf(1, "DIAMONDS"))).toBe(treasuryBefore + 12)
  })

  test("spending beyond the balance is INSUFFICIENT_FUNDS and writes nothing", async () => {
    const userId = await newUser("broke")
    const error = await service.run(
      Effect.flip(service.client.wallets.spend({ payload: writeRequest({ userId, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() }), headers: {} }))
    )
    expect(error).toMatchObject({ _tag: "InsufficientFunds", code: "INSUFFICIENT_FUNDS", balance: 0, amount: 1 })
    const history = await getJson(service, `/api/wallets/${userId}/transactions`)
    expect(history.body.items).toEqual([])
  })

  test("unknown user, unknown asset and the treasury as target are refused", async () => {
    const unknownUser = await service.run(
      Effect.flip(service.client.wallets.topup({ payload: writeRequest({ userId: 999_999, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() }), headers: {} }))
    )
    expect(unknownUser).toMatchObject({ _tag: "UserNotFound", code: "USER_NOT_FOUND" })
    const unknownAsset = await service.run(
      Effect.flip(service.client.wallets.topup({ payload: writeRequest({ userId: 2, assetCode: "gold_coins", amount: 1, idempotencyKey: uniqueKey() }), headers: {} }))
    )
    expect(unknownAsset).toMatchObject({ _tag: "AssetNotFound", code: "ASSET_NOT_FOUND" })
    const system = await service.run(
      Effect.flip(service.client.wallets.spend({ payload: writeRequest({ userId: 1, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() }), headers: {} }))
    )
    expect(system).toMatchObject({ _tag: "SystemAccount", code: "SYSTEM_ACCOUNT" })
  })

  test("404s are not stored: the same key works once the user exists", async () => {
    const key = uniqueKey()
    const missing = await postJson(service, "/api/wallets/topup", { userId: 999_998, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: key })
    expect(missing.status).toBe(404)
    const userId = await newUser("later")
    const applied = await postJson(service, "/api/wallets/topup", { userId, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: key })
    // A different body under the same key: had the 404 been stored, this would be a 422.
    expect(applied.status).toBe(201)
  })

  test("a credit that takes a balance past 2^53 - 1 is BALANCE_LIMIT, stored and replayed", async () => {
    const userId = await newUser("rich")
    const key = uniqueKey()
    const body = { userId, assetCode: "LOYALTY_POINTS", amount: MaxAmount, idempotencyKey: key }
    const over = await postJson(service, "/api/wallets/bonus", body)
    expect(over.status).toBe(422)
    expect(over.body).toMatchObject({ code: "BALANCE_LIMIT", amount: MaxAmount })
    const replay = await postJson(service, "/api/wallets/bonus", body)
    expect(replay.status).toBe(422)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    // The first body again, byte for byte: it names the first request, the header this one.
    expect(replay.text).toBe(over.text)
    expect(replay.body.requestId).toBe(over.headers.get("x-request-id"))
    expect(replay.headers.get("x-request-id")).not.toBe(over.headers.get("x-request-id"))
    expect(await service.run(balanceOf(userId, "LOYALTY_POINTS"))).toBe(0)
  })

  test("the treasury cannot issue more than 2^53 - 1 of an asset in total", async () => {
    const a = await newUser("whale_a")
    const b = await newUser("whale_b")
    const issued = -(await service.run(balanceOf(1, "DIAMONDS")))
    const filled = await postJson(service, "/api/wallets/topup", { userId: a, assetCode: "DIAMONDS", amount: MaxAmount - issued, idempotencyKey: uniqueKey() })
    expect(filled.status).toBe(201)
    const more = await postJson(service, "/api/wallets/topup", { userId: b, assetCode: "DIAMONDS", amount: 1, idempotencyKey: uniqueKey() })
    expect(more.status).toBe(422)
    expect(more.body).toMatchObject({ code: "BALANCE_LIMIT" })
    // Spend it back so the other suites' figures stay small.
    const back = await postJson(service, "/api/wallets/spend", { userId: a, assetCode: "DIAMONDS", amount: MaxAmount - issued, idempotencyKey: uniqueKey() })
    expect(back.status).toBe(201)
  })
})

describe("idempotency", () => {
  test("a replay returns the first status and body byte for byte, marked, with no second write", async () => {
    const userId = await newUser("replay")
    const body = { userId, assetCode: "GOLD_COINS", amount: 70, idempotencyKey: uniqueKey(), description: "Pack of 70 💰" }
    const first = await postJson(service, "/api/wallets/topup", body)
    const second = await postJson(service, "/api/wallets/topup", body)
    expect(first.status).toBe(201)
    expect(first.headers.get("idempotent-replayed")).toBeNull()
    expect(second.status).toBe(201)
    expect(second.headers.get("idempotent-replayed")).toBe("true")
    expect(second.text).toBe(first.text)
    expect(await service.run(balanceOf(userId, "GOLD_COINS"))).toBe(70)
  })

  test("the key may come in the Idempotency-Key header", async () => {
    const userId = await newUser("header")
    const key = uniqueKey()
    const receipt = await service.run(
      service.client.wallets.bonus({ payload: writeRequest({ userId, assetCode: "GOLD_COINS", amount: 3 }), headers: { "idempotency-key": key as never } })
    )
    expect(receipt.balance).toBe(3)
    const replay = await postJson(service, "/api/wallets/bonus", { userId, assetCode: "GOLD_COINS", amount: 3 }, { "idempotency-key": key })
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
    // The same key in both places is one key.
    const both = await postJson(service, "/api/wallets/bonus", { userId, assetCode: "GOLD_COINS", amount: 3, idempotencyKey: key }, { "idempotency-key": key })
    expect(both.status).toBe(201)
    expect(both.headers.get("idempotent-replayed")).toBe("true")
    expect(await service.run(balanceOf(userId, "GOLD_COINS"))).toBe(3)
  })

  test("a missing key, or header and body keys that differ, are 400s", async () => {
    const missing = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 1 })
    expect(missing.status).toBe(400)
    expect(missing.body).toMatchObject({ code: "IDEMPOTENCY_KEY_MISSING" })
    const differ = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: "a" }, { "idempotency-key": "b" })
    expect(differ.status).toBe(400)
    expect(differ.body).toMatchObject({ code: "IDEMPOTENCY_KEY_CONFLICT" })
  })

  test("the same key with any other field different is 422 IDEMPOTENCY_KEY_REUSED", async () => {
    const userId = await newUser("reuse")
    const key = uniqueKey()
    const base = { userId, assetCode: "GOLD_COINS", amount: 10, idempotencyKey: key, description: "d" }
    expect((await postJson(service, "/api/wallets/topup", base)).status).toBe(201)
    const variants: Array<[string, Record<string, unknown>]> = [
      ["/api/wallets/topup", { ...base, amount: 11 }],
      ["/api/wallets/topup", { ...base, assetCode: "DIAMONDS" }],
      ["/api/wallets/topup", { ...base, userId: 2 }],
      ["/api/wallets/topup", { ...base, description: "e" }],
      ["/api/wallets/topup", { userId, assetCode: "GOLD_COINS", amount: 10, idempotencyKey: key }],
      ["/api/wallets/bonus", base],
      ["/api/wallets/spend", base]
    ]
    for (const [path, body] of variants) {
      const response = await postJson(service, path, body)
      expect(response.status).toBe(422)
      expect(response.body).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" })
    }
    expect(await service.run(balanceOf(userId, "GOLD_COINS"))).toBe(10)
  })

  test("concurrent requests with one key apply once; the others get the replay", async () => {
    const userId = await newUser("race")
    const body = { userId, assetCode: "GOLD_COINS", amount: 25, idempotencyKey: uniqueKey() }
    const responses = await Promise.all(Array.from({ length: 20 }, () => postJson(service, "/api/wallets/topup", body)))
    expect(responses.map((r) => r.status)).toEqual(Array.from({ length: 20 }, () => 201))
    expect(responses.filter((r) => r.headers.get("idempotent-replayed") === null)).toHaveLength(1)
    expect(new Set(responses.map((r) => r.body.transactionId)).size).toBe(1)
    expect(await service.run(balanceOf(userId, "GOLD_COINS"))).toBe(25)
  })
})

describe("malformed writes are 4xx JSON errors and write nothing", () => {
  const valid = { userId: 2, assetCode: "GOLD_COINS", amount: 5 }
  const cases: Array<[string, unknown]> = [
    ["amount as a string", { ...valid, amount: "5" }],
    ["amount zero", { ...valid, amount: 0 }],
    ["negative amount", { ...valid, amount: -5 }],
    ["fractional amount", { ...valid, amount: 1.5 }],
    ["amount past 2^53 - 1", { ...valid, amount: 9007199254740992 }],
    ["amount in exponent form past the limit", '{"userId":2,"assetCode":"GOLD_COINS","amount":1e300,"idempotencyKey":"x"}'],
    ["userId zero", { ...valid, userId: 0 }],
    ["userId as a string", { ...valid, userId: "2" }],
    ["missing assetCode", { userId: 2, amount: 5 }],
    ["empty assetCode", { ...valid, assetCode: "" }],
    ["key of 256 characters", { ...valid, idempotencyKey: "k".repeat(256) }],
    ["empty key", { ...valid, idempotencyKey: "" }],
    ["description of 501 characters", { ...valid, description: "d".repeat(501) }],
    ["description with NUL", { ...valid, description: "a\u0000b" }],
    ["description null", { ...valid, description: null }],
    ["a JSON array", [valid]],
    ["a JSON string", '"hello"'],
    ["JSON null", "null"],
    ["truncated JSON", '{"userId":2,'],
    ["empty body", ""]
  ]
  for (const [name, body] of cases) {
    test(name, async () => {
      const key = uniqueKey()
      const payload = typeof body === "object" && body !== null && !Array.isArray(body) ? { idempotencyKey: key, ...body } : body
      const response = await postJson(service, "/api/wallets/spend", typeof payload === "string" ? payload : JSON.stringify(payload))
      expect(response.status).toBe(400)
      expect(typeof response.body.code).toBe("string")
      expect(response.body.code).toMatch(/^[A-Z_]+$/)
      expect(typeof response.body.message).toBe("string")
    })
  }

  test("a validation error names each field and its rule once", async () => {
    const emptyKey = await postJson(service, "/api/wallets/spend", { ...valid, idempotencyKey: "" })
    expect(emptyKey.body.issues).toEqual([{ path: ["idempotencyKey"], message: "expected 1 to 255 characters, got 0" }])
    const notAnObject = await postJson(service, "/api/wallets/spend", "null")
    expect(notAnObject.body.issues).toEqual([{ path: [], message: "expected a JSON object" }])
    expect(notAnObject.body.message).toBe("Invalid request: request: expected a JSON object")
  })

  test("lengths count characters, not bytes: 255 emoji make a valid key", async () => {
    const userId = await newUser("emoji")
    const key = "🦖".repeat(255)
    const description = "💎".repeat(500)
    const response = await postJson(service, "/api/wallets/bonus", { userId, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key, description })
    expect(response.status).toBe(201)
    expect(response.body.description).toBe(description)
    const replay = await postJson(service, "/api/wallets/bonus", { userId, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key, description })
    expect(replay.headers.get("idempotent-replayed")).toBe("true")
  })

  test("a body over 64 KiB is 413, a body that is not JSON is 415", async () => {
    const big = await postJson(service, "/api/wallets/topup", { ...valid, idempotencyKey: uniqueKey(), description: "x".repeat(70_000) })
    expect(big.status).toBe(413)
    expect(big.body).toMatchObject({ code: "PAYLOAD_TOO_LARGE" })
    const form = await service.fetch("/api/wallets/topup", {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "userId=2&amount=5"
    })
    expect(form.status).toBe(415)
    expect(await form.json()).toMatchObject({ code: "UNSUPPORTED_MEDIA_TYPE" })
  })

  test("a chunked body over 64 KiB is 413 too", async () => {
    const chunk = new TextEncoder().encode(" ".repeat(16 * 1024))
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 5; i++) controller.enqueue(chunk)
        controller.close()
      }
    })
    const response = await service.fetch("/api/wallets/topup", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream
    })
    expect(response.status).toBe(413)
    expect(await response.json()).toMatchObject({ code: "PAYLOAD_TOO_LARGE" })
  })

  test("after all of the above the ledger still holds every invariant", async () => {
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })
})

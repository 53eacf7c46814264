import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { AssetCode } from "../../src/domain/Asset.ts"
import { CaptureRequest, HoldId, HoldRequest, VoidRequest } from "../../src/domain/Hold.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { UserId } from "../../src/domain/User.ts"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { testAdminKey } from "../support/TestApiKey.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Holds: POST /api/holds takes an amount out of a player's spendable balance into escrow; a
 * capture pays it (or part) out and returns the rest, a void returns it all, and the service
 * itself releases a hold past its expiry. GET /api/holds/{id} shows it.
 */

let service: TestService
beforeAll(async () => {
  // Expiry tests wait for the worker: a short interval keeps them short.
  service = await startService({ HOLD_EXPIRY_INTERVAL: "200 millis" })
})
afterAll(() => service.dispose())

const newUser = (label: string, gold = 0) => newPlayer(service, label, gold)

const holdRequest = (userId: number, amount: number, fields: { expiresInSeconds?: number; description?: string } = {}) =>
  HoldRequest.make({
    userId: UserId.make(userId),
    assetCode: AssetCode.make("GOLD_COINS"),
    amount: Amount.make(amount),
    idempotencyKey: IdempotencyKey.make(uniqueKey("hold")),
    ...(fields.expiresInSeconds === undefined ? {} : { expiresInSeconds: fields.expiresInSeconds }),
    ...(fields.description === undefined ? {} : { description: fields.description })
  })

const hold = (userId: number, amount: number, fields: Parameters<typeof holdRequest>[2] = {}) =>
  service.run(service.client.holds.create({ payload: holdRequest(userId, amount, fields), headers: {} }))

const capture = (holdId: string, fields: { amount?: number; toUserId?: number } = {}) =>
  service.client.holds.capture({
    path: { holdId: HoldId.make(holdId) },
    payload: CaptureRequest.make({
      idempotencyKey: IdempotencyKey.make(uniqueKey("capture")),
      ...(fields.amount === undefined ? {} : { amount: Amount.make(fields.amount) }),
      ...(fields.toUserId === undefined ? {} : { toUserId: UserId.make(fields.toUserId) })
    }),
    headers: {}
  })

const voidHold = (holdId: string) =>
  service.client.holds.void({
    path: { holdId: HoldId.make(holdId) },
    payload: VoidRequest.make({ idempotencyKey: IdempotencyKey.make(uniqueKey("void")) }),
    headers: {}
  })

const getHold = (holdId: string) => service.run(service.client.holds.get({ path: { holdId: HoldId.make(holdId) } }))

const heldOf = async (userId: number) =>
  (await getJson(service, `/api/wallets/${userId}/balance?assetCode=GOLD_COINS`)).body.held as number

describe("holds through the typed client", () => {
  test("a hold takes the amount out of the spendable balance into escrow, shown as held", async () => {
    const player = await newUser("holder", 100)
    const created = await hold(player, 30, { description: "Table stake" })
    expect(created).toMatchObject({
      status: "HELD",
      userId: player,
      assetCode: "GOLD_COINS",
      amount: 30,
      capturedAmount: 0,
      balance: 70,
      description: "Table stake",
      settlementTransactionId: null
    })
    expect(created.expiresAt.getTime() - created.createdAt.getTime()).toBe(900_000)
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(70)
    const balance = await getJson(service, `/api/wallets/${player}/balance?assetCode=GOLD_COINS`)
    expect(balance.body).toEqual({ userId: player, assetCode: "GOLD_COINS", balance: 70, held: 30 })
    const all = await getJson(service, `/api/wallets/${player}/balance`)
    expect(all.body.balances).toContainEqual({ assetCode: "GOLD_COINS", balance: 70, held: 30 })

    expect(await getHold(created.holdId)).toMatchObject({ status: "HELD", amount: 30, transactionId: created.transactionId })
    const transaction = await service.run(service.client.transactions.get({ path: { transactionId: created.transactionId } }))
    expect(transaction.type).toBe("HOLD")
    expect(transaction.legs[0]).toMatchObject({ fromUserId: player, assetCode: "GOLD_COINS", amount: 30 })
    // A player cannot spend what is held.
    const spend = await postJson(service, "/api/wallets/spend", { userId: player, assetCode: "GOLD_COINS", amount: 71, idempotencyKey: uniqueKey() })
    expect([spend.status, spend.body.code]).toEqual([409, "INSUFFICIENT_FUNDS"])
    // A hold is not reversed: it is voided.
    const reversal = await postJson(service, `/api/transactions/${created.transactionId}/reversal`, { idempotencyKey: uniqueKey() })
    expect([reversal.status, reversal.body.code]).toEqual([422, "NOT_REVERSIBLE"])
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a player named escrow is only a player: held funds go to the system's escrow, not to them", async () => {
    const named = await postJson(service, "/api/users", { username: "Escrow" })
    // 201 the first time; 409 if another test of this database took the name first.
    expect([201, 409]).toContain(named.status)
    const player = await newUser("escrowed", 50)
    const created = await hold(player, 20)
    const transaction = await service.run(service.client.transactions.get({ path: { transactionId: created.transactionId } }))
    const escrow = transaction.legs[0]!.toUserId
    const users = await service.run(Effect.gen(function*() {
      const sql = yield* SqlClient.SqlClient
      return yield* sql<{ username: string; kind: string }>`SELECT username, kind FROM users WHERE id = ${escrow}`
    }))
    expect(users).toEqual([{ username: "$escrow", kind: "SYSTEM" }])
    if (named.status === 201) {
      const balance = await getJson(service, `/api/wallets/${named.body.userId}/balance?assetCode=GOLD_COINS`)
      expect(balance.body).toMatchObject({ balance: 0, held: 0 })
    }
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a partial capture pays the treasury and returns the rest; the hold is then not active", async () => {
    const player = await newUser("captured", 100)
    const created = await hold(player, 40)
    const settled = await service.run(capture(created.holdId, { amount: 25 }))
    expect(settled).toMatchObject({
      type: "CAPTURE",
      hold: { holdId: created.holdId, status: "CAPTURED", capturedAmount: 25, amount: 40 },
      legs: [
        { toUserId: 1, assetCode: "GOLD_COINS", amount: 25 },
        { toUserId: player, amount: 15, toBalance: 75 }
      ]
    })
    expect(settled.hold.settlementTransactionId).toBe(settled.transactionId)
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(75)
    expect(await heldOf(player)).toBe(0)
    expect(await getHold(created.holdId)).toMatchObject({ status: "CAPTURED", capturedAmount: 25 })

    expect(await service.run(Effect.flip(capture(created.holdId)))).toMatchObject({
      _tag: "HoldNotActive",
      code: "HOLD_NOT_ACTIVE",
      status: "CAPTURED"
    })
    expect(await service.run(Effect.flip(voidHold(created.holdId)))).toMatchObject({ code: "HOLD_NOT_ACTIVE" })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a whole capture to another player is one leg", async () => {
    const player = await newUser("buyer", 50)
    const seller = await newUser("seller")
    const created = await hold(player, 50)
    const settled = await service.run(capture(created.holdId, { toUserId: seller }))
    expect(settled.legs).toMatchObject([{ toUserId: seller, amount: 50, toBalance: 50 }])
    expect(await service.run(balanceOf(seller, "GOLD_COINS"))).toBe(50)
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(0)
  })

  test("a void returns it all with 200, and its replay is 200 too", async () => {
    const player = await newUser("voided", 20)
    const created = await hold(player, 20)
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(0)
    const key = uniqueKey()
    const first = await postJson(service, `/api/holds/${created.holdId}/void`, { idempotencyKey: key })
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ type: "RELEASE", hold: { status: "VOIDED" }, legs: [{ toUserId: player, amount: 20, toBalance: 20 }] })
    const again = await postJson(service, `/api/holds/${created.holdId}/void`, {}, { "idempotency-key": key })
    expect([again.status, again.headers.get("idempotent-replayed"), again.text]).toEqual([200, "true", first.text])
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(20)
    expect(await heldOf(player)).toBe(0)
  })

  test("a player's holds, newest first, of one status or all, at most limit; 404 for an unknown user, 400 for a bad query", async () => {
    const player = await newUser("lister", 100)
    const other = await newUser("other", 100)
    const [first, second, third] = [await hold(player, 10), await hold(player, 20), await hold(player, 30)]
    await hold(other, 5)
    expect((await service.run(voidHold(second.holdId))).hold.status).toBe("VOIDED")
    const all = await getJson(service, `/api/holds?userId=${player}`)
    expect(all.status).toBe(200)
    expect((all.body.items as Array<{ holdId: string; status: string; amount: number }>).map((h) => [h.holdId, h.status, h.amount]))
      .toEqual([[third.holdId, "HELD", 30], [second.holdId, "VOIDED", 20], [first.holdId, "HELD", 10]])
    const typed = await service.run(service.client.holds.list({ urlParams: { userId: player, status: "HELD", limit: 1 } }))
    expect(typed.items.map((h) => h.holdId)).toEqual([third.holdId])
    expect((await getJson(service, "/api/holds?userId=999999")).body).toMatchObject({ code: "USER_NOT_FOUND" })
    for (const query of ["", "?userId=0", `?userId=${player}&limit=101`, `?userId=${player}&status=GONE`]) {
      const refused = await getJson(service, `/api/holds${query}`)
      expect([query, refused.status, refused.body.code]).toEqual([query, 400, "VALIDATION_ERROR"])
    }
  })

  test("refusals: funds short, unknown user or asset, the treasury, too much captured, unknown hold", async () => {
    const player = await newUser("refused", 10)
    const short = await postJson(service, "/api/holds", { userId: player, assetCode: "GOLD_COINS", amount: 11, idempotencyKey: uniqueKey() })
    expect([short.status, short.body.code, short.body.balance]).toEqual([409, "INSUFFICIENT_FUNDS", 10])
    for (const [body, status, code] of [
      [{ userId: 999_999, assetCode: "GOLD_COINS", amount: 1 }, 404, "USER_NOT_FOUND"],
      [{ userId: player, assetCode: "NOPE", amount: 1 }, 404, "ASSET_NOT_FOUND"],
      [{ userId: 1, assetCode: "GOLD_COINS", amount: 1 }, 422, "SYSTEM_ACCOUNT"]
    ] as const) {
      const response = await postJson(service, "/api/holds", { ...body, idempotencyKey: uniqueKey() })
      expect([response.status, response.body.code]).toEqual([status, code])
    }
    const created = await hold(player, 10)
    expect(await service.run(Effect.flip(capture(created.holdId, { amount: 11 })))).toMatchObject({
      code: "CAPTURE_EXCEEDS_HOLD",
      held: 10
    })
    expect(await service.run(Effect.flip(capture(created.holdId, { toUserId: 999_999 })))).toMatchObject({ code: "USER_NOT_FOUND" })
    const unknown = "00000000-0000-4000-8000-000000000000"
    expect(await service.run(Effect.flip(capture(unknown)))).toMatchObject({ _tag: "HoldNotFound", code: "HOLD_NOT_FOUND" })
    expect(await service.run(Effect.flip(voidHold(unknown)))).toMatchObject({ code: "HOLD_NOT_FOUND" })
    expect(await service.run(Effect.flip(service.client.holds.get({ path: { holdId: HoldId.make(unknown) } })))).toMatchObject({
      code: "HOLD_NOT_FOUND"
    })
    // None of the refusals touched the hold.
    expect((await service.run(capture(created.holdId))).hold.status).toBe("CAPTURED")
  })
})

describe("hold expiry", () => {
  test("the service releases a hold past expiresAt within 5 s; capture and void are then HOLD_NOT_ACTIVE", async () => {
    const player = await newUser("expiring", 60)
    const created = await hold(player, 60, { expiresInSeconds: 1 })
    expect(created.expiresAt.getTime() - created.createdAt.getTime()).toBe(1000)
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(0)
    const deadline = created.expiresAt.getTime() + 5_000
    let found = await getHold(created.holdId)
    while (found.status === "HELD" && Date.now() < deadline) {
      await Bun.sleep(100)
      found = await getHold(created.holdId)
    }
    expect(found.status).toBe("EXPIRED")
    // Counted too (the metric registry is this test process's, so at least this one).
    const metrics = await (await service.fetch("/api/metrics", { headers: { authorization: `Bearer ${testAdminKey}` } })).text()
    expect(Number(/^wallet_holds_expired_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0)).toBeGreaterThanOrEqual(1)
    expect(found.settledAt!.getTime()).toBeGreaterThanOrEqual(created.expiresAt.getTime())
    expect(found.settledAt!.getTime()).toBeLessThanOrEqual(created.expiresAt.getTime() + 5_000)
    const release = await service.run(service.client.transactions.get({ path: { transactionId: found.settlementTransactionId! } }))
    expect(release.type).toBe("RELEASE")
    expect(release.legs[0]).toMatchObject({ toUserId: player, amount: 60 })
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(60)
    expect(await heldOf(player)).toBe(0)
    expect(await service.run(Effect.flip(capture(created.holdId)))).toMatchObject({ code: "HOLD_NOT_ACTIVE", status: "EXPIRED" })
    expect(await service.run(Effect.flip(voidHold(created.holdId)))).toMatchObject({ code: "HOLD_NOT_ACTIVE", status: "EXPIRED" })
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("reconciliation shows what is held per asset, equal to the escrow's balance", async () => {
    const player = await newUser("reconciled", 10)
    await hold(player, 7)
    const report = await service.run(service.client.reconciliation.reconcile())
    const gold = report.assets.find((asset) => asset.assetCode === "GOLD_COINS")!
    expect(gold.held).toBeGreaterThanOrEqual(7)
    expect(gold.held).toBe(gold.escrowBalance)
    expect(report.ok).toBe(true)
  })
})

describe("hold idempotency and malformed requests", () => {
  test("a replay is the first answer byte for byte; another body under the key is 422; no key is 400", async () => {
    const player = await newUser("replayed", 10)
    const key = uniqueKey()
    const body = { userId: player, assetCode: "GOLD_COINS", amount: 4, idempotencyKey: key, metadata: { table: "T-1" } }
    const first = await postJson(service, "/api/holds", body)
    expect(first.status).toBe(201)
    expect(first.body.metadata).toEqual({ table: "T-1" })
    const again = await postJson(service, "/api/holds", body)
    expect([again.status, again.headers.get("idempotent-replayed"), again.text]).toEqual([201, "true", first.text])
    expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(6)
    const other = await postJson(service, "/api/holds", { ...body, amount: 5 })
    expect([other.status, other.body.code]).toEqual([422, "IDEMPOTENCY_KEY_REUSED"])
    const missing = await postJson(service, "/api/holds", { userId: player, assetCode: "GOLD_COINS", amount: 1 })
    expect([missing.status, missing.body.code]).toEqual([400, "IDEMPOTENCY_KEY_MISSING"])

    const captureKey = uniqueKey()
    const captured = await postJson(service, `/api/holds/${first.body.holdId}/capture`, { idempotencyKey: captureKey })
    expect(captured.status).toBe(201)
    const replay = await postJson(service, `/api/holds/${first.body.holdId}/capture`, { idempotencyKey: captureKey })
    expect([replay.status, replay.headers.get("idempotent-replayed"), replay.text]).toEqual([201, "true", captured.text])
    // A refusal of a settled hold is kept under its key too.
    const late = uniqueKey()
    const refused = await postJson(service, `/api/holds/${first.body.holdId}/void`, { idempotencyKey: late })
    const refusedAgain = await postJson(service, `/api/holds/${first.body.holdId}/void`, { idempotencyKey: late })
    expect([refused.status, refusedAgain.status, refusedAgain.headers.get("idempotent-replayed")]).toEqual([409, 409, "true"])
  })

  test("a bad amount, expiry or hold id is 400 VALIDATION_ERROR", async () => {
    const valid = { userId: 2, assetCode: "GOLD_COINS", amount: 1 }
    for (const [field, value] of [
      ["expiresInSeconds", 0],
      ["expiresInSeconds", 604_801],
      ["expiresInSeconds", 1.5],
      ["amount", 0],
      ["userId", "2"]
    ] as const) {
      const response = await postJson(service, "/api/holds", { ...valid, [field]: value, idempotencyKey: uniqueKey() })
      expect([response.status, response.body.code]).toEqual([400, "VALIDATION_ERROR"])
      expect(JSON.stringify(response.body.issues)).toContain(field)
    }
    for (const path of ["/api/holds/nope/capture", "/api/holds/nope/void"]) {
      const response = await postJson(service, path, { idempotencyKey: uniqueKey() })
      expect([response.status, response.body.code]).toEqual([400, "VALIDATION_ERROR"])
    }
    const capture = await postJson(service, "/api/holds/00000000-0000-4000-8000-000000000000/capture", { amount: -1, idempotencyKey: uniqueKey() })
    expect([capture.status, capture.body.code]).toEqual([400, "VALIDATION_ERROR"])
    expect((await getJson(service, "/api/holds/nope")).status).toBe(400)
  })
})

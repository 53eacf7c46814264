import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  // The default retention (30 days), pruned every 200 ms instead of every minute.
  service = await startService({ IDEMPOTENCY_PRUNE_INTERVAL: "200 millis" })
})
afterAll(() => service.dispose())

const topup = (key: string) =>
  postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "LOYALTY_POINTS", amount: 7, idempotencyKey: key })

const storedKeys = (keys: ReadonlyArray<string>) =>
  service.run(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const rows = yield* sql<{ key: string }>`SELECT key FROM idempotency_records WHERE key IN ${sql.in(keys)}`
    return rows.map((row) => row.key).sort()
  }))

/** Makes records look `days` old: the only way to test a 30-day retention without waiting for it. */
const age = (keys: ReadonlyArray<string>, days: number) =>
  service.run(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`UPDATE idempotency_records SET created_at = now() - make_interval(days => ${days})
                WHERE key IN ${sql.in(keys)}`
  }))

const transactionCount = () =>
  service.run(Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const [row] = yield* sql<{ count: number }>`SELECT count(*)::int AS count FROM transactions`
    return row!.count
  }))

describe("idempotency retention", () => {
  test("records older than IDEMPOTENCY_RETENTION are pruned, newer ones kept, the ledger untouched", async () => {
    const old = [uniqueKey("old"), uniqueKey("old")]
    const recent = [uniqueKey("recent"), uniqueKey("recent")]
    for (const key of [...old, ...recent]) expect((await topup(key)).status).toBe(201)
    await age(old, 31)
    await age(recent.slice(0, 1), 29)
    const transactions = await transactionCount()

    const deadline = Date.now() + 15_000
    while ((await storedKeys(old)).length > 0 && Date.now() < deadline) await Bun.sleep(100)

    expect(await storedKeys(old)).toEqual([])
    expect(await storedKeys(recent)).toEqual([...recent].sort())
    expect(await transactionCount()).toBe(transactions)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a retry after its key was pruned is a new request: it applies again", async () => {
    const key = uniqueKey("late")
    const first = await topup(key)
    expect(first.status).toBe(201)
    const replay = await topup(key)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")

    await age([key], 40)
    const deadline = Date.now() + 15_000
    while ((await storedKeys([key])).length > 0 && Date.now() < deadline) await Bun.sleep(100)

    const late = await topup(key)
    expect(late.status).toBe(201)
    expect(late.headers.get("idempotent-replayed")).toBeNull()
    expect(late.body.transactionId).not.toBe(first.body.transactionId)
    expect(late.body.balance).toBe((first.body.balance as number) + 7)
  })

  test("a retention under an hour stops the start-up", async () => {
    await expect(startService({ IDEMPOTENCY_RETENTION: "5 minutes" })).rejects.toThrow(/IDEMPOTENCY_RETENTION/)
  })
})

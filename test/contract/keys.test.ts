import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { createHash } from "node:crypto"
import { request, startServiceProcess } from "../support/ServiceProcess.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * The keys' life: created (shown once, stored as a hash), listed without secrets, used,
 * revoked (refused at once here and within 5 s by another service on the same database), and
 * named on the transactions they write.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const createKey = async (name: string, scopes: ReadonlyArray<string>) => {
  const created = await postJson(service, "/api/keys", { name, scopes })
  expect(created.status).toBe(201)
  return created.body as { keyId: string; key: string; name: string; scopes: Array<string>; createdAt: string }
}

const as = (key: string) => ({ authorization: `Bearer ${key}` })

describe("create and list", () => {
  test("201 with the secret once; the list and the table never hold it", async () => {
    const created = await createKey("game server eu-1", ["read", "write"])
    expect(created.key).toMatch(/^dwk_[A-Za-z0-9_-]{43}$/)
    expect(created.name).toBe("game server eu-1")
    expect(created.scopes).toEqual(["read", "write"])
    expect(Number.isNaN(Date.parse(created.createdAt))).toBe(false)

    const list = await getJson(service, "/api/keys")
    expect(list.status).toBe(200)
    const items = list.body.items as Array<Record<string, unknown>>
    expect(items).toContainEqual({
      keyId: created.keyId,
      name: "game server eu-1",
      scopes: ["read", "write"],
      createdAt: created.createdAt,
      revokedAt: null
    })
    expect(JSON.stringify(list.body)).not.toContain(created.key)
    expect(JSON.stringify(list.body)).not.toContain(created.key.slice(4))

    const rows = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ keyHash: Uint8Array; row: string }>`SELECT key_hash, row_to_json(api_keys)::text AS row FROM api_keys WHERE id = ${created.keyId}`))
    expect(Buffer.from(rows[0]!.keyHash).toString("hex")).toBe(createHash("sha256").update(created.key).digest("hex"))
    expect(rows[0]!.row).not.toContain(created.key.slice(4))
  })

  test("names and scopes are validated: 400 VALIDATION_ERROR", async () => {
    for (const body of [
      { name: "", scopes: ["read"] },
      { name: "x".repeat(101), scopes: ["read"] },
      { name: "nul\u0000", scopes: ["read"] },
      { name: "ok", scopes: [] },
      { name: "ok", scopes: ["read", "read"] },
      { name: "ok", scopes: ["root"] },
      { name: "ok", scopes: ["read", "write", "admin", "read"] },
      { name: "ok" },
      { scopes: ["read"] }
    ]) {
      const answer = await postJson(service, "/api/keys", body)
      expect({ body, status: answer.status, code: answer.body.code }).toEqual({ body, status: 400, code: "VALIDATION_ERROR" })
    }
    // The longest name is taken.
    expect((await postJson(service, "/api/keys", { name: "x".repeat(100), scopes: ["admin"] })).status).toBe(201)
  })
})

describe("the limit", () => {
  test("past API_KEYS_MAX keys in use, creating one is 409 API_KEY_LIMIT; revoking one makes room", async () => {
    const limited = await startService({ API_KEYS_MAX: "2" })
    try {
      const make = (name: string) => postJson(limited, "/api/keys", { name, scopes: ["read"] })
      const first = await make("one")
      expect(first.status).toBe(201)
      expect((await make("two")).status).toBe(201)
      const refused = await make("three")
      expect(refused).toMatchObject({ status: 409, body: { code: "API_KEY_LIMIT", limit: 2 } })
      const listed = await getJson(limited, "/api/keys")
      expect((listed.body.items as Array<unknown>).length).toBe(2)
      expect((await limited.fetch(`/api/keys/${first.body.keyId}`, { method: "DELETE" })).status).toBe(200)
      expect((await make("three")).status).toBe(201)
    } finally {
      await limited.dispose()
    }
  })
})

describe("revoke", () => {
  test("a revoked key is refused at once; revoking again keeps the first time; unknown ids are 404", async () => {
    const created = await createKey("to be revoked", ["read"])
    expect((await service.fetch("/api/wallets/2/balance", { headers: as(created.key) })).status).toBe(200)

    const revoked = await service.fetch(`/api/keys/${created.keyId}`, { method: "DELETE" })
    expect(revoked.status).toBe(200)
    const info = (await revoked.json()) as { keyId: string; revokedAt: string }
    expect(info.keyId).toBe(created.keyId)
    expect(Number.isNaN(Date.parse(info.revokedAt))).toBe(false)

    const refused = await service.fetch("/api/wallets/2/balance", { headers: as(created.key) })
    expect(refused.status).toBe(401)
    expect(((await refused.json()) as { code: string }).code).toBe("UNAUTHORIZED")

    const again = await service.fetch(`/api/keys/${created.keyId}`, { method: "DELETE" })
    expect(again.status).toBe(200)
    expect(((await again.json()) as { revokedAt: string }).revokedAt).toBe(info.revokedAt)

    const listed = (await getJson(service, "/api/keys")).body.items as Array<{ keyId: string; revokedAt: string | null }>
    expect(listed.find((item) => item.keyId === created.keyId)?.revokedAt).toBe(info.revokedAt)

    const unknown = await service.fetch("/api/keys/00000000-0000-4000-8000-000000000000", { method: "DELETE" })
    expect(unknown.status).toBe(404)
    expect(((await unknown.json()) as { code: string }).code).toBe("API_KEY_NOT_FOUND")
    const malformed = await service.fetch("/api/keys/not-a-key-id", { method: "DELETE" })
    expect(malformed.status).toBe(400)
  })

  test("a key made and revoked by one service is taken and refused by another on the same database within 5 s", async () => {
    const other = await startServiceProcess(service.databaseUrl)
    try {
      const created = await createKey("seen by both", ["read"])
      const untilStatus = async (wanted: number) => {
        const startedMs = Date.now()
        while (Date.now() - startedMs < 10_000) {
          const answer = await request(other.baseUrl, "GET", "/api/wallets/2/balance", undefined, 2_000, { apiKey: created.key })
          if (answer._tag === "Answered" && answer.status === wanted) return Date.now() - startedMs
          await Bun.sleep(50)
        }
        return Number.POSITIVE_INFINITY
      }
      expect(await untilStatus(200)).toBeLessThan(5_000)
      expect((await service.fetch(`/api/keys/${created.keyId}`, { method: "DELETE" })).status).toBe(200)
      const refusedAfterMs = await untilStatus(401)
      console.log(`revocation seen by the other process after ${refusedAfterMs} ms`)
      expect(refusedAfterMs).toBeLessThan(5_000)
    } finally {
      await other.kill()
    }
  }, 60_000)
})

describe("createdBy", () => {
  test("each transaction names the key that wrote it, in history and lookups; ADMIN_API_KEY's are null", async () => {
    const writer = await createKey("writer", ["write"])
    const reader = await createKey("reader", ["read"])
    const topup = await postJson(
      service,
      "/api/wallets/topup",
      { userId: 3, assetCode: "DIAMONDS", amount: 5, idempotencyKey: uniqueKey("by") },
      as(writer.key)
    )
    expect(topup.status).toBe(201)
    const bulk = await postJson(service, "/api/wallets/batch", {
      items: [{ type: "SPEND", userId: 3, assetCode: "DIAMONDS", amount: 1, idempotencyKey: uniqueKey("by") }]
    }, as(writer.key))
    expect(bulk.status).toBe(200)
    const byAdmin = await postJson(service, "/api/wallets/bonus", { userId: 3, assetCode: "DIAMONDS", amount: 2, idempotencyKey: uniqueKey("by") })
    expect(byAdmin.status).toBe(201)
    // A replay under the same key by another caller is the first write: it keeps its author.
    const replayed = { userId: 3, assetCode: "DIAMONDS", amount: 5, idempotencyKey: uniqueKey("by") }
    expect((await postJson(service, "/api/wallets/topup", replayed, as(writer.key))).status).toBe(201)
    const replay = await postJson(service, "/api/wallets/topup", replayed)
    expect(replay.headers.get("idempotent-replayed")).toBe("true")

    const history = await service.fetch("/api/wallets/3/transactions?assetCode=DIAMONDS&limit=4", { headers: as(reader.key) })
    const items = ((await history.json()) as { items: Array<{ transactionId: string; createdBy: string | null }> }).items
    const bulkReceipt = (bulk.body.results as Array<{ body: { transactionId: string } }>)[0]!.body
    expect(items.map((item): Array<unknown> => [item.transactionId, item.createdBy])).toEqual([
      [replay.body.transactionId, writer.keyId],
      [byAdmin.body.transactionId, null],
      [bulkReceipt.transactionId, writer.keyId],
      [topup.body.transactionId, writer.keyId]
    ])
    const lookup = await service.fetch(`/api/transactions/${topup.body.transactionId}`, { headers: as(reader.key) })
    expect(((await lookup.json()) as { createdBy: string | null }).createdBy).toBe(writer.keyId)
    const search = await service.fetch("/api/transactions?userId=3&assetCode=DIAMONDS&limit=2", { headers: as(reader.key) })
    const found = ((await search.json()) as { items: Array<{ transactionId: string; createdBy: string | null }> }).items
    expect(found.map((item): Array<unknown> => [item.transactionId, item.createdBy])).toEqual([
      [replay.body.transactionId, writer.keyId],
      [byAdmin.body.transactionId, null]
    ])
    const stored = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ createdBy: string | null }>`SELECT created_by FROM transactions WHERE id = ${topup.body.transactionId as string}`))
    expect(stored[0]!.createdBy).toBe(writer.keyId)
    // The genesis transactions of the seed have no author.
    const genesis = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ authored: number }>`SELECT count(created_by)::int AS authored FROM transactions WHERE type = 'GENESIS'`))
    expect(genesis[0]!.authored).toBe(0)
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { connect } from "node:net"
import { AssetCode } from "../../src/domain/Asset.ts"
import { Username, UserId } from "../../src/domain/User.ts"
import { dropDatabase } from "../support/Database.ts"
import { testAdminKey } from "../support/TestApiKey.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const createUser = (username: string) =>
  service.run(service.client.users.create({ payload: { username: Username.make(username) } }))

describe("balances", () => {
  test("one asset's balance, and every asset's, from the seed's opening balances", async () => {
    const one = await service.run(
      service.client.wallets.balance({ path: { userId: UserId.make(2) }, urlParams: { assetCode: AssetCode.make("DIAMONDS") } })
    )
    expect(one).toMatchObject({ userId: 2, assetCode: "DIAMONDS", balance: 50 })
    const all = await getJson(service, "/api/wallets/3/balance")
    expect(all.status).toBe(200)
    expect(all.body).toEqual({
      userId: 3,
      balances: [
        { assetCode: "DIAMONDS", balance: 20, held: 0 },
        { assetCode: "GOLD_COINS", balance: 500, held: 0 },
        { assetCode: "LOYALTY_POINTS", balance: 100, held: 0 }
      ]
    })
  })

  test("an asset the user has no wallet for reads as 0", async () => {
    await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`INSERT INTO assets (code, name) VALUES ('RUBIES', 'Rubies')`))
    const rubies = await getJson(service, "/api/wallets/2/balance?assetCode=RUBIES")
    expect(rubies.body).toEqual({ userId: 2, assetCode: "RUBIES", balance: 0, held: 0 })
    // The first write opens the wallets it needs.
    const topup = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "RUBIES", amount: 4, idempotencyKey: uniqueKey() })
    expect(topup.status).toBe(201)
    expect(topup.body.balance).toBe(4)
  })

  test("unknown user or asset is 404, a non-numeric user id is 400", async () => {
    const user = await getJson(service, "/api/wallets/424242/balance")
    expect(user.status).toBe(404)
    expect(user.body).toMatchObject({ code: "USER_NOT_FOUND" })
    const asset = await getJson(service, "/api/wallets/2/balance?assetCode=NOPE")
    expect(asset.status).toBe(404)
    expect(asset.body).toMatchObject({ code: "ASSET_NOT_FOUND" })
    for (const id of ["abc", "0", "-1", "1.5", "1e3", "99999999999999999"]) {
      const bad = await getJson(service, `/api/wallets/${id}/balance`)
      expect(bad.status).toBe(400)
      expect(bad.body).toMatchObject({ code: "VALIDATION_ERROR" })
    }
  })
})

describe("balances at a time", () => {
  test("?at gives the balances as they were then, per asset or all, through the typed client too", async () => {
    const user = await createUser(`at_${Date.now()}`)
    const write = async (path: string, assetCode: string, amount: number) => {
      const response = await postJson(service, `/api/wallets/${path}`, { userId: user.userId, assetCode, amount, idempotencyKey: uniqueKey() })
      expect(response.status).toBe(201)
      await Bun.sleep(20)
      // Receipts are to the millisecond, the ledger to the microsecond: the next millisecond covers this write.
      return new Date(new Date(response.body.createdAt as string).getTime() + 1)
    }
    const beforeAll = new Date(Date.now() - 60_000)
    const afterTopup = await write("topup", "GOLD_COINS", 100)
    const afterBonus = await write("bonus", "DIAMONDS", 7)
    const afterSpend = await write("spend", "GOLD_COINS", 30)

    const at = async (time: Date, assetCode?: string) => {
      const query = new URLSearchParams({ at: time.toISOString(), ...(assetCode === undefined ? {} : { assetCode }) })
      const response = await getJson(service, `/api/wallets/${user.userId}/balance?${query}`)
      expect(response.status).toBe(200)
      return response.body
    }
    expect(await at(beforeAll, "GOLD_COINS")).toEqual({ userId: user.userId, assetCode: "GOLD_COINS", balance: 0, held: 0 })
    expect(await at(afterTopup, "GOLD_COINS")).toMatchObject({ balance: 100 })
    expect(await at(afterBonus, "GOLD_COINS")).toMatchObject({ balance: 100 })
    expect(await at(afterSpend, "GOLD_COINS")).toMatchObject({ balance: 70 })
    const all = await at(afterBonus)
    expect((all.balances as Array<{ assetCode: string; balance: number; held: number }>).filter((b) => b.balance !== 0)).toEqual([
      { assetCode: "DIAMONDS", balance: 7, held: 0 },
      { assetCode: "GOLD_COINS", balance: 100, held: 0 }
    ])
    const typed = await service.run(service.client.wallets.balance({
      path: { userId: user.userId },
      urlParams: { assetCode: AssetCode.make("DIAMONDS"), at: afterTopup }
    }))
    expect(typed).toMatchObject({ assetCode: "DIAMONDS", balance: 0 })
    // The treasury's history is long; its past balance comes from the same index probe.
    const treasuryNow = await getJson(service, "/api/wallets/1/balance?assetCode=GOLD_COINS")
    const treasuryThen = await getJson(service, `/api/wallets/1/balance?assetCode=GOLD_COINS&at=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`)
    expect(treasuryThen.body).toEqual(treasuryNow.body)
  })

  test("a malformed time is 400, an unknown user 404", async () => {
    for (const at of ["yesterday", "2026-13-45T00:00:00Z", "", "1e12"]) {
      const response = await getJson(service, `/api/wallets/2/balance?at=${encodeURIComponent(at)}`)
      expect({ at, status: response.status, code: response.body.code }).toEqual({ at, status: 400, code: "VALIDATION_ERROR" })
    }
    const missing = await getJson(service, `/api/wallets/999999999/balance?at=${new Date().toISOString()}`)
    expect(missing).toMatchObject({ status: 404, body: { code: "USER_NOT_FOUND" } })
  })
})

describe("history", () => {
  test("newest first, with balanceAfter, filtered by asset", async () => {
    const user = await createUser(`hist_${Date.now()}`)
    for (const [path, assetCode, amount] of [
      ["topup", "GOLD_COINS", 100],
      ["spend", "GOLD_COINS", 30],
      ["bonus", "DIAMONDS", 5]
    ] as const) {
      expect((await postJson(service, `/api/wallets/${path}`, { userId: user.userId, assetCode, amount, idempotencyKey: uniqueKey() })).status).toBe(201)
    }
    const page = await service.run(
      service.client.wallets.history({ path: { userId: user.userId }, urlParams: {} })
    )
    expect(page.items.map((i) => [i.type, i.assetCode, i.entryType, i.amount, i.balanceAfter])).toEqual([
      ["BONUS", "DIAMONDS", "CREDIT", 5, 5],
      ["SPEND", "GOLD_COINS", "DEBIT", 30, 70],
      ["TOPUP", "GOLD_COINS", "CREDIT", 100, 100]
    ] as never)
    expect(page).toMatchObject({ limit: 20, offset: 0, nextCursor: null })
    const gold = await getJson(service, `/api/wallets/${user.userId}/transactions?assetCode=GOLD_COINS`)
    expect((gold.body.items as Array<unknown>).length).toBe(2)
  })

  test("limit and offset page through; bad values are 400", async () => {
    const user = await createUser(`page_${Date.now()}`)
    for (let i = 1; i <= 5; i++) {
      await postJson(service, "/api/wallets/bonus", { userId: user.userId, assetCode: "GOLD_COINS", amount: i, idempotencyKey: uniqueKey() })
    }
    const second = await getJson(service, `/api/wallets/${user.userId}/transactions?limit=2&offset=2`)
    expect((second.body.items as Array<{ amount: number }>).map((i) => i.amount)).toEqual([3, 2])
    expect(second.body).toMatchObject({ limit: 2, offset: 2 })
    expect(typeof second.body.nextCursor).toBe("string")
    for (const query of ["limit=0", "limit=101", "limit=abc", "offset=-1", "offset=x", "limit=1.5", "cursor=bogus", "cursor="]) {
      const bad = await getJson(service, `/api/wallets/${user.userId}/transactions?${query}`)
      expect(bad.status).toBe(400)
      expect(bad.body).toMatchObject({ code: "VALIDATION_ERROR" })
    }
    expect((await getJson(service, `/api/wallets/${user.userId}/transactions?assetCode=NOPE`)).status).toBe(404)
    expect((await getJson(service, "/api/wallets/777777/transactions")).status).toBe(404)
  })

  test("paging by cursor neither skips nor repeats while new entries arrive", async () => {
    const user = await createUser(`cursor_${Date.now()}`)
    const write = (amount: number) =>
      postJson(service, "/api/wallets/bonus", { userId: user.userId, assetCode: "GOLD_COINS", amount, idempotencyKey: uniqueKey() })
    for (let amount = 1; amount <= 7; amount++) await write(amount)
    const seen: Array<number> = []
    let cursor: string | null = null
    let pages = 0
    do {
      const query: string = cursor === null ? "limit=3" : `limit=3&cursor=${cursor}`
      const page = await getJson(service, `/api/wallets/${user.userId}/transactions?${query}`)
      seen.push(...(page.body.items as Array<{ amount: number }>).map((i) => i.amount))
      cursor = page.body.nextCursor as string | null
      // New entries land on top while we page below them.
      await write(100 + pages)
      pages++
    } while (cursor !== null && pages < 10)
    expect(seen).toEqual([7, 6, 5, 4, 3, 2, 1])
    expect(pages).toBe(3)
  })
})

describe("users", () => {
  test("a new user gets a wallet per asset; the same name in another case is 409", async () => {
    const name = `Player.One-${Date.now()}`
    const user = await createUser(name)
    expect(user.username).toBe(name as never)
    const balances = await getJson(service, `/api/wallets/${user.userId}/balance`)
    expect((balances.body.balances as Array<{ balance: number }>).every((b) => b.balance === 0)).toBe(true)
    // Names differ by more than case.
    const shouted = await postJson(service, "/api/users", { username: name.toUpperCase() })
    expect(shouted.status).toBe(409)
    expect(shouted.body).toMatchObject({ code: "USERNAME_TAKEN" })
  })

  test("usernames are 1 to 64 letters, digits, '_', '.' or '-'", async () => {
    for (const username of ["", "a b", "x".repeat(65), "naïve", "semi;colon", 42, null]) {
      const response = await postJson(service, "/api/users", { username })
      expect(response.status).toBe(400)
      expect(response.body).toMatchObject({ code: "VALIDATION_ERROR" })
    }
    expect((await postJson(service, "/api/users", { username: "x".repeat(64) })).status).toBe(201)
  })
})

describe("the HTTP edge", () => {
  test("health is ok while the database answers", async () => {
    const health = await service.run(service.client.health.check())
    expect(health).toMatchObject({ status: "ok", database: "up" })
  })

  test("unknown routes are 404 and wrong methods 405, as JSON", async () => {
    const missing = await getJson(service, "/api/nothing-here")
    expect(missing.status).toBe(404)
    expect(missing.body).toMatchObject({ code: "ROUTE_NOT_FOUND" })
    const root = await getJson(service, "/")
    expect(root.status).toBe(404)
    const wrong = await service.fetch("/api/wallets/topup")
    expect(wrong.status).toBe(405)
    expect(await wrong.json()).toMatchObject({ code: "METHOD_NOT_ALLOWED", allow: ["POST"] })
    const del = await service.fetch("/api/wallets/2/balance", { method: "DELETE" })
    expect(del.status).toBe(405)
  })

  test("a path parameter that does not parse is 400 (or 404), never 405 for an allowed method; every body is JSON", async () => {
    // Raw HTTP over a socket: fetch would normalise `..` and re-encode the path before sending it.
    const rawRequest = (method: string, path: string) =>
      new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
        const { port } = new URL(service.baseUrl)
        const socket = connect(Number(port), "127.0.0.1", () =>
          socket.write(
            `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${testAdminKey}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`
          ))
        let response = ""
        socket.on("data", (chunk: Buffer) => (response += chunk.toString("utf8")))
        socket.on("error", reject)
        socket.on("end", () => {
          const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1])
          const text = response.slice(response.indexOf("\r\n\r\n") + 4)
          try {
            resolve({ status, body: JSON.parse(text) as Record<string, unknown> })
          } catch {
            reject(new Error(`${method} ${path}: not a JSON body: ${response.slice(0, 300)}`))
          }
        })
      })
    const segments = [
      "2;1", "2;", ";", "%3B", "%00", "2%00", "2%2F1", "%2F", "..", ".", "%2E%2E", "2..", "-1", "0x2", "2e3",
      "9".repeat(5000), "1".repeat(101), "%C3%A9", encodeURIComponent("ü".repeat(300)), encodeURIComponent("🦖"), "é", "%E0%A4%A", "%"
    ]
    const wrong: Array<string> = []
    for (const segment of segments) {
      for (const resource of ["balance", "transactions"]) {
        const path = `/api/wallets/${segment}/${resource}`
        const { status, body } = await rawRequest("GET", path)
        const expected = (status === 400 && body.code === "VALIDATION_ERROR") || (status === 404 && body.code === "ROUTE_NOT_FOUND")
        if (!expected || typeof body.message !== "string") wrong.push(`GET ${path.slice(0, 80)}: ${status} ${JSON.stringify(body).slice(0, 200)}`)
      }
    }
    expect(wrong).toEqual([])
    // The issue's own example, and a parameter too long for the router: the parameter is named.
    for (const segment of ["2;1", "9".repeat(5000)]) {
      const response = await rawRequest("GET", `/api/wallets/${segment}/balance`)
      expect(response.status).toBe(400)
      expect(response.body).toMatchObject({ code: "VALIDATION_ERROR", issues: [{ path: ["userId"] }] })
      expect(String(response.body.message).length).toBeLessThan(500)
    }
    // 405 is for a method the path really does not allow, whatever its parameter.
    for (const path of ["/api/wallets/2/balance", "/api/wallets/2;1/balance"]) {
      const response = await rawRequest("DELETE", path)
      expect(response.status).toBe(405)
      expect(response.body).toMatchObject({ code: "METHOD_NOT_ALLOWED", allow: ["GET"] })
    }
  })

  test("metrics are scraped in the Prometheus text format", async () => {
    await postJson(service, "/api/wallets/bonus", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() })
    const response = await service.fetch("/api/metrics")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/plain")
    const text = await response.text()
    expect(text).toMatch(/^# TYPE wallet_writes_total counter$/m)
    expect(Number(/^wallet_writes_total\{type="BONUS",outcome="applied"\} (\d+)$/m.exec(text)?.[1])).toBeGreaterThanOrEqual(1)
    expect(text).toMatch(/^http_request_duration_seconds_bucket\{le="\+Inf"\} \d+$/m)
    // Every sample line is `name{labels} number`.
    for (const line of text.split("\n").filter((l) => l !== "" && !l.startsWith("#"))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+$/)
    }
  })

  test("the OpenAPI document is derived from the contract", async () => {
    const doc = await getJson(service, "/api/openapi.json")
    expect(doc.status).toBe(200)
    expect(String(doc.body.openapi)).toMatch(/^3\./)
    const paths = Object.keys(doc.body.paths as object)
    expect(paths).toEqual(expect.arrayContaining([
      "/api/wallets/topup",
      "/api/wallets/bonus",
      "/api/wallets/spend",
      "/api/wallets/{userId}/balance",
      "/api/wallets/{userId}/transactions",
      "/api/users",
      "/api/health",
      "/api/metrics"
    ]))
    // Schema failures reach clients as ValidationError, and the document says so.
    expect(JSON.stringify(doc.body)).not.toContain("HttpApiDecodeError")
    const topup = (doc.body.paths as Record<string, any>)["/api/wallets/topup"].post
    expect(JSON.stringify(topup.responses["400"])).toContain("#/components/schemas/ValidationError")
    expect(Object.keys(topup.responses)).toEqual(expect.arrayContaining(["201", "400", "404", "413", "415", "422", "500"]))
    // The history's limits are written where clients read them.
    const history = (doc.body.paths as Record<string, any>)["/api/wallets/{userId}/transactions"].get
    expect(history.description).toContain("offset is 0 to 10000")
    expect(history.description).toContain("limit is 1 to 100")
  })

  test("the docs page loads no script or stylesheet from another host", async () => {
    const response = await service.fetch("/docs")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    const html = await response.text()
    expect(html).not.toMatch(/<script[^>]+src=["']https?:/i)
    expect(html).not.toMatch(/<link[^>]+href=["']https?:/i)
  })
})

describe("when the database goes away", () => {
  test("health, writes and reads are 503 with a JSON error body", async () => {
    const lonely = await startService()
    try {
      await dropDatabase(lonely.databaseUrl)
      const health = await getJson(lonely, "/api/health")
      expect(health.status).toBe(503)
      expect(health.body).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "unavailable" })
      const write = await postJson(lonely, "/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() })
      expect(write.status).toBe(503)
      expect(write.body).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "unavailable" })
      const read = await getJson(lonely, "/api/wallets/2/balance")
      expect(read.status).toBe(503)
      expect(read.body).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "unavailable" })
    } finally {
      await lonely.dispose()
    }
  })
})

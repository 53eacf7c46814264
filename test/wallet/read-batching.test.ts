import { afterAll, beforeAll, expect, test } from "bun:test"
import fc from "fast-check"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Balance and history reads of concurrent requests share one statement (wallet/ReadBatcher.ts).
 * Each must still get exactly its own answer: the same status and body as when it is read
 * alone, whatever else its batch holds (other users, unknown users and assets, filters,
 * cursors, offsets, page sizes).
 */

let service: TestService
const players: Array<number> = []
const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
/** Cursors into the players' histories, from pages of two entries. */
const cursors: Array<string> = []

beforeAll(async () => {
  service = await startService()
  for (let i = 0; i < 5; i++) {
    const created = await postJson(service, "/api/users", { username: `batched_${Date.now().toString(36)}_${i}` })
    expect(created.status).toBe(201)
    players.push(created.body.userId as number)
  }
  // A different number of entries per player and asset; the last player has none.
  for (const [p, userId] of players.slice(0, -1).entries()) {
    for (let n = 0; n < 4 + p * 3; n++) {
      const assetCode = assets[n % assets.length]!
      const path = n % 4 === 3 ? "spend" : "topup"
      const written = await postJson(service, `/api/wallets/${path}`, {
        userId,
        assetCode,
        amount: n % 4 === 3 ? 1 : 10 + n,
        idempotencyKey: uniqueKey()
      })
      expect(written.status).toBe(201)
    }
  }
  for (const userId of players) {
    let cursor: string | null = ""
    while (cursor !== null) {
      const page = await getJson(service, `/api/wallets/${userId}/transactions?limit=2${cursor === "" ? "" : `&cursor=${cursor}`}`)
      expect(page.status).toBe(200)
      cursor = page.body.nextCursor as string | null
      if (cursor !== null) cursors.push(cursor)
    }
  }
})
afterAll(() => service.dispose())

/** A user: one of the players, or one that does not exist. */
const user = fc.oneof({ weight: 5, arbitrary: fc.nat({ max: 4 }).map((i) => () => players[i]!) }, {
  weight: 1,
  arbitrary: fc.constant(() => 987_654_321)
})
const asset = fc.option(fc.constantFrom(...assets, "NO_SUCH_ASSET"), { nil: undefined })

const read = fc.oneof(
  fc.record({ user, asset }).map(({ asset, user }) => () =>
    `/api/wallets/${user()}/balance${asset === undefined ? "" : `?assetCode=${asset}`}`
  ),
  fc.record({
    user,
    asset,
    limit: fc.option(fc.integer({ min: 1, max: 12 }), { nil: undefined }),
    offset: fc.option(fc.nat({ max: 4 }), { nil: undefined }),
    cursor: fc.option(fc.nat({ max: 1_000 }), { nil: undefined })
  }).map(({ asset, cursor, limit, offset, user }) => () => {
    const query = new URLSearchParams()
    if (asset !== undefined) query.set("assetCode", asset)
    if (limit !== undefined) query.set("limit", String(limit))
    if (offset !== undefined) query.set("offset", String(offset))
    // Any player's cursor: within the user's own history, or past or before it.
    if (cursor !== undefined) query.set("cursor", cursors[cursor % cursors.length]!)
    return `/api/wallets/${user()}/transactions?${query}`
  })
)

const batchSizes = async () => {
  const metrics = await (await service.fetch("/api/metrics")).text()
  const value = (name: string) =>
    Number(metrics.split("\n").find((line) => line.startsWith(`${name} `))?.split(" ")[1] ?? Number.NaN)
  return { count: value("wallet_read_batch_size_count"), sum: value("wallet_read_batch_size_sum") }
}

test("reads sent at once get the answers each gets alone", async () => {
  const before = await batchSizes()
  /** The kinds of answer the batches held, so that the property is known to have met each. */
  const reached = { balances: 0, notFound: 0, pagesFromCursor: 0, emptyPages: 0 }
  await fc.assert(
    fc.asyncProperty(fc.array(read, { minLength: 2, maxLength: 40 }), async (reads) => {
      const paths = reads.map((path) => path())
      const alone: Array<unknown> = []
      for (const path of paths) {
        const answer = await getJson(service, path)
        alone.push({ path, status: answer.status, body: answer.body })
      }
      const together = await Promise.all(paths.map(async (path) => {
        const answer = await getJson(service, path)
        return { path, status: answer.status, body: answer.body }
      }))
      // Error bodies carry their request's own id.
      const withoutIds = (answers: Array<unknown>) => JSON.parse(JSON.stringify(answers).replace(/"requestId":"[^"]*"/g, "\"requestId\":\"\""))
      expect(withoutIds(together)).toEqual(withoutIds(alone))
      for (const { body, path, status } of together) {
        if (status === 404) reached.notFound++
        else if (path.includes("/balance")) reached.balances++
        else if ((body.items as Array<unknown>).length === 0) reached.emptyPages++
        else if (path.includes("cursor=")) reached.pagesFromCursor++
      }
    }),
    { numRuns: 40 }
  )
  expect(Object.values(reached).every((count) => count > 0)).toBe(true)
  // The reads sent at once did share statements: more reads were answered than statements run.
  const after = await batchSizes()
  expect(after.count).toBeGreaterThan(before.count)
  expect(after.sum - before.sum).toBeGreaterThan(after.count - before.count)
})

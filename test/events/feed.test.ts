import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { type EventJson, expectGapFree, feedPage, readFeedUntil } from "../support/Events.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * The outbox and the feed: one transaction.posted event per committed ledger transaction,
 * whatever wrote it, whose data is the transaction's lookup as posted; none for a refused
 * write; gap-free sequences a reader pages through once, in order, while writes go on.
 */
let service: TestService
beforeAll(async () => {
  service = await startService({ HOLD_EXPIRY_INTERVAL: "200 millis", IDEMPOTENCY_PRUNE_INTERVAL: "200 millis" })
})
afterAll(() => service.dispose())

const countRows = (table: "events" | "transactions") =>
  service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    table === "events"
      ? sql<{ n: number }>`SELECT count(*)::int AS n FROM events`
      : sql<{ n: number }>`SELECT count(*)::int AS n FROM transactions WHERE type <> 'GENESIS'`)).then((rows) => rows[0]!.n)

/** The last sequence once every event committed so far is numbered. */
const lastSequence = async () => {
  const events = await readFeedUntil(service, await countRows("events"))
  return events.at(-1)?.sequence ?? 0
}

const created = async (path: string, body: Record<string, unknown>, status = 201) => {
  const answer = await postJson(service, path, body)
  expect(answer.status).toBe(status)
  return answer.body
}

describe("the outbox", () => {
  test("every write kind commits exactly one event whose data is the transaction's lookup as posted", async () => {
    const alice = await newPlayer(service, "ev_alice", 1_000)
    const bob = await newPlayer(service, "ev_bob", 1_000)
    const start = await lastSequence()
    const gold = { assetCode: "GOLD_COINS" }
    // Each write's transaction id and its lookup right after it, before anything reverses it.
    const posted: Array<{ kind: string; transactionId: string; lookup: Record<string, unknown> }> = []
    const keep = async (kind: string, transactionId: unknown) => {
      const lookup = await getJson(service, `/api/transactions/${transactionId}`)
      expect(lookup.status).toBe(200)
      posted.push({ kind, transactionId: transactionId as string, lookup: lookup.body })
    }
    const write = (kind: string) => ({ userId: alice, ...gold, amount: 10, idempotencyKey: uniqueKey(kind), metadata: { kind } })
    await keep("topup", (await created("/api/wallets/topup", write("topup"))).transactionId)
    await keep("bonus", (await created("/api/wallets/bonus", write("bonus"))).transactionId)
    await keep("spend", (await created("/api/wallets/spend", write("spend"))).transactionId)
    await keep(
      "transfer",
      (await created("/api/wallets/transfer", { fromUserId: alice, toUserId: bob, ...gold, amount: 5, idempotencyKey: uniqueKey() }))
        .transactionId
    )
    await keep(
      "multi-leg",
      (await created("/api/transactions", {
        legs: [{ fromUserId: alice, toUserId: bob, ...gold, amount: 3 }, { fromUserId: bob, toUserId: alice, ...gold, amount: 1 }],
        idempotencyKey: uniqueKey(),
        description: "two legs"
      })).transactionId
    )
    const hold = await created("/api/holds", { userId: alice, ...gold, amount: 20, idempotencyKey: uniqueKey() })
    await keep("hold", hold.transactionId)
    await keep("capture", (await created(`/api/holds/${hold.holdId}/capture`, { amount: 5, toUserId: bob, idempotencyKey: uniqueKey() })).transactionId)
    const released = await created("/api/holds", { userId: alice, ...gold, amount: 7, idempotencyKey: uniqueKey() })
    await keep("hold", released.transactionId)
    await keep("release", (await created(`/api/holds/${released.holdId}/void`, { idempotencyKey: uniqueKey() }, 200)).transactionId)
    const expiring = await created("/api/holds", { userId: alice, ...gold, amount: 4, expiresInSeconds: 1, idempotencyKey: uniqueKey() })
    await keep("hold", expiring.transactionId)
    let expired: Record<string, unknown> = {}
    for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
      expired = (await getJson(service, `/api/holds/${expiring.holdId}`)).body
      if (expired.status === "EXPIRED") break
      await Bun.sleep(100)
    }
    expect(expired.status).toBe("EXPIRED")
    await keep("expiry", expired.settlementTransactionId)
    const reversed = posted[0]!.transactionId
    await keep("reversal", (await created(`/api/transactions/${reversed}/reversal`, { amount: 4, idempotencyKey: uniqueKey() })).transactionId)
    const bulk = await created("/api/wallets/batch", {
      items: [
        { type: "BONUS", userId: bob, ...gold, amount: 2, idempotencyKey: uniqueKey("bulk") },
        { type: "SPEND", userId: bob, ...gold, amount: 1_000_000, idempotencyKey: uniqueKey("bulk") },
        { type: "TOPUP", userId: alice, ...gold, amount: 3, idempotencyKey: uniqueKey("bulk") }
      ]
    }, 200)
    const results = bulk.results as ReadonlyArray<{ status: number; body: { transactionId?: string } }>
    expect(results.map((r) => r.status)).toEqual([201, 409, 201])
    await keep("bulk", results[0]!.body.transactionId)
    await keep("bulk", results[2]!.body.transactionId)

    const kinds = new Set(posted.map((p) => p.kind))
    expect(kinds).toEqual(new Set(["topup", "bonus", "spend", "transfer", "multi-leg", "hold", "capture", "release", "expiry", "reversal", "bulk"]))
    const events = (await readFeedUntil(service, start + posted.length)).slice(start)
    expect(events.length).toBe(posted.length)
    expectGapFree(events, start + 1)
    const byTransaction = new Map(events.map((event) => [event.data.transactionId, event]))
    for (const { kind, lookup, transactionId } of posted) {
      const event = byTransaction.get(transactionId)
      expect({ kind, found: event !== undefined }).toEqual({ kind, found: true })
      expect(event!.type).toBe("transaction.posted")
      expect(event!.createdAt).toBe(lookup.createdAt as string)
      expect({ kind, data: event!.data }).toEqual({ kind, data: lookup as EventJson["data"] })
    }
    // The reversed topup's lookup changed since; its event still shows it as posted.
    const now = await getJson(service, `/api/transactions/${reversed}`)
    expect((now.body.reversedBy as Array<string>).length).toBe(1)
    expect(byTransaction.get(reversed)!.data.reversedBy).toEqual([])
    // And the database agrees: one event per ledger transaction, no more.
    expect(await countRows("events")).toBe(await countRows("transactions"))
  }, 60_000)

  test("a refused write, a replay and a malformed request commit no event", async () => {
    const carol = await newPlayer(service, "ev_carol", 5)
    await lastSequence()
    const before = await countRows("events")
    const key = uniqueKey()
    const topup = { userId: carol, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: key }
    expect((await postJson(service, "/api/wallets/topup", topup)).status).toBe(201)
    expect((await postJson(service, "/api/wallets/topup", topup)).headers.get("idempotent-replayed")).toBe("true")
    expect((await postJson(service, "/api/wallets/spend", { ...topup, amount: 100, idempotencyKey: uniqueKey() })).status).toBe(409)
    expect((await postJson(service, "/api/wallets/spend", { ...topup, amount: -1, idempotencyKey: uniqueKey() })).status).toBe(400)
    expect((await postJson(service, "/api/wallets/topup", { ...topup, userId: 999_999, idempotencyKey: uniqueKey() })).status).toBe(404)
    expect(await countRows("events")).toBe(before + 1)
    expect(await countRows("events")).toBe(await countRows("transactions"))
  })
})

test("a batch that rolls back commits no event; its halves commit theirs", async () => {
  await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql.unsafe(`
      CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.description = 'poison' THEN RAISE EXCEPTION 'poisoned transaction'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_poison BEFORE INSERT ON transactions FOR EACH ROW EXECUTE FUNCTION test_poison();`)))
  try {
    const dave = await newPlayer(service, "ev_dave")
    const start = await lastSequence()
    const items = Array.from({ length: 12 }, (_, i) => ({
      type: "BONUS",
      userId: dave,
      assetCode: "GOLD_COINS",
      amount: 1,
      idempotencyKey: uniqueKey("poison"),
      description: i === 5 ? "poison" : "fine"
    }))
    const bulk = await created("/api/wallets/batch", { items }, 200)
    const results = bulk.results as ReadonlyArray<{ status: number; body: { transactionId?: string } }>
    expect(results.filter((r) => r.status === 201).length).toBe(11)
    expect(results[5]!.status).toBe(500)
    const events = (await readFeedUntil(service, start + 11)).slice(start)
    expectGapFree(events, start + 1)
    expect(new Set(events.map((event) => event.data.transactionId)))
      .toEqual(new Set(results.flatMap((r) => r.body.transactionId === undefined ? [] : [r.body.transactionId])))
    expect(await countRows("events")).toBe(await countRows("transactions"))
  } finally {
    await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) => sql`DROP TRIGGER test_poison ON transactions`))
  }
})

describe("the feed", () => {
  test("a reader paging with nextAfter while writes go on sees every event once, in order, with no gap", async () => {
    const players = await Promise.all(Array.from({ length: 4 }, (_, i) => newPlayer(service, `ev_page${i}`)))
    const start = await lastSequence()
    const writers = 8
    const perWriter = 25
    let writing = true
    const written: Array<string> = []
    const writes = Promise.all(Array.from({ length: writers }, async (_, w) => {
      for (let i = 0; i < perWriter; i++) {
        const answer = await postJson(service, "/api/wallets/topup", {
          userId: players[(w + i) % players.length],
          assetCode: "GOLD_COINS",
          amount: 1,
          idempotencyKey: uniqueKey("page")
        })
        expect(answer.status).toBe(201)
        written.push(answer.body.transactionId as string)
      }
    })).finally(() => {
      writing = false
    })
    const began = Date.now()
    const seen: Array<EventJson> = []
    let after = start
    let pages = 0
    const deadline = Date.now() + 30_000
    while ((writing || seen.length < writers * perWriter) && Date.now() < deadline) {
      const page = await feedPage(service, `after=${after}&limit=7`)
      pages++
      for (const event of page.events) expect(event.sequence).toBeGreaterThan(after)
      if (page.events.length > 0) expect(page.nextAfter).toBe(page.events.at(-1)!.sequence)
      else expect(page.nextAfter).toBe(after)
      seen.push(...page.events)
      after = page.nextAfter
    }
    await writes
    console.log(`feed paging: ${written.length} writes in ${Date.now() - began} ms, ${pages} pages`)
    expect(pages).toBeGreaterThan(writers * perWriter / 7 - 1)
    expectGapFree(seen, start + 1)
    expect(new Set(seen.map((event) => event.data.transactionId))).toEqual(new Set(written))
  }, 60_000)

  test("types filters; limit and after are checked", async () => {
    const page = await feedPage(service, "types=transaction.posted&limit=3")
    expect(page.events.length).toBe(3)
    expect(page.events.every((event) => event.type === "transaction.posted")).toBe(true)
    for (const query of ["limit=0", "limit=1001", "after=-1", "after=x", "types=nope", "types=transaction.posted,transaction.posted"]) {
      const answer = await getJson(service, `/api/events?${query}`)
      expect({ query, status: answer.status, code: answer.body.code }).toEqual({ query, status: 400, code: "VALIDATION_ERROR" })
    }
    const past = await feedPage(service, `after=${Number.MAX_SAFE_INTEGER}`)
    expect(past).toEqual({ events: [], nextAfter: Number.MAX_SAFE_INTEGER })
  })
})

test("events older than EVENTS_RETENTION are pruned from the head of the feed; numbering goes on after them", async () => {
  const erin = await newPlayer(service, "ev_erin", 1)
  for (let i = 0; i < 4; i++) {
    expect((await postJson(service, "/api/wallets/topup", { userId: erin, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() })).status)
      .toBe(201)
  }
  const last = await lastSequence()
  // As if the first three of the feed were 31 days old (the default retention is 30 days).
  await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql`UPDATE events SET created_at = now() - interval '31 days' WHERE sequence IN (1, 2, 3)`))
  let first = 0
  for (const deadline = Date.now() + 10_000; Date.now() < deadline && first !== 4;) {
    first = (await feedPage(service, "limit=1")).events[0]!.sequence
    await Bun.sleep(50)
  }
  expect(first).toBe(4)
  expect((await feedPage(service, `after=${last - 1}`)).events.map((event) => event.sequence)).toEqual([last])
  expect((await postJson(service, "/api/wallets/topup", { userId: erin, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() })).status)
    .toBe(201)
  expect((await readFeedUntil({ fetch: (path) => service.fetch(path.replace("after=0", `after=${last}`)) }, 1)).map((event) => event.sequence))
    .toEqual([last + 1])
})

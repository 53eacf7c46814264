import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import pg from "pg"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * What batching could break, and must not: a poison request among good ones, and the bounded
 * queue. The committer is made to queue by holding the treasury's wallet lock from outside, as
 * a slow batch of another process would.
 */

/** Holds the treasury's Gold Coins row locked until released; writes of that asset wait on it. */
const lockTreasury = async (databaseUrl: string) => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  await client.query("BEGIN")
  await client.query("SELECT id FROM wallets WHERE user_id = 1 AND asset_code = 'GOLD_COINS' FOR UPDATE")
  return {
    /** Resolves once a committer's batch is waiting on the lock. */
    awaitWaiter: async () => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const waiting = await client.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        if (waiting.rows[0].n > 0) return
        await Bun.sleep(10)
      }
      throw new Error("no batch is waiting on the treasury's lock")
    },
    release: async () => {
      await client.query("ROLLBACK")
      await client.end()
    }
  }
}

/** Waits until the committer holds this many writes, as its metric reports. */
const queueDepth = async (service: TestService, depth: number) => {
  for (let attempt = 0; attempt < 300; attempt++) {
    const metrics = await (await service.fetch("/api/metrics")).text()
    if (new RegExp(`^wallet_write_queue_depth ${depth}$`, "m").test(metrics)) return
    await Bun.sleep(10)
  }
  throw new Error(`the write queue never held ${depth} writes`)
}

const bulkItem = (i: number, fields: Record<string, unknown> = {}) => ({
  type: "TOPUP",
  userId: 2,
  assetCode: "GOLD_COINS",
  amount: 1,
  idempotencyKey: uniqueKey(`item${i}`),
  ...fields
})

describe("a poison request", () => {
  let service: TestService
  beforeAll(async () => {
    service = await startService()
    // A failure the service cannot foresee: the database refuses this one transaction.
    const client = new pg.Client({ connectionString: service.databaseUrl })
    await client.connect()
    await client.query(`
      CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.description = 'poison' THEN RAISE EXCEPTION 'poisoned transaction'; END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_poison BEFORE INSERT ON transactions FOR EACH ROW EXECUTE FUNCTION test_poison();`)
    await client.end()
  })
  afterAll(() => service.dispose())

  test("fails alone; every other request of its batch commits", async () => {
    const items = Array.from({ length: 40 }, (_, i) => bulkItem(i, i === 17 ? { description: "poison" } : {}))
    const response = await postJson(service, "/api/wallets/batch", { items })
    expect(response.status).toBe(200)
    const results = response.body.results as Array<{ index: number; status: number; body: Record<string, unknown> }>
    expect(results.map((r) => r.index)).toEqual(items.map((_, i) => i))
    expect(results[17]!.status).toBe(500)
    expect(results[17]!.body.code).toBe("INTERNAL_ERROR")
    expect(results.filter((r) => r.index !== 17).map((r) => r.status)).toEqual(Array(39).fill(201))
    // The poison's key stored nothing: once the cause is gone, it can be sent again.
    const retried = await postJson(service, "/api/wallets/topup", { ...items[17], description: "cured" })
    expect(retried.status).toBe(201)
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("a single poisoned write is a 500 with the contract's body, and a later one is not affected", async () => {
    const poisoned = await postJson(service, "/api/wallets/bonus", { ...bulkItem(0), description: "poison" })
    expect(poisoned.status).toBe(500)
    expect(poisoned.body.code).toBe("INTERNAL_ERROR")
    const fine = await postJson(service, "/api/wallets/bonus", bulkItem(1))
    expect(fine.status).toBe(201)
  })
})

describe("the bounded queue", () => {
  let service: TestService
  beforeAll(async () => {
    service = await startService({ WRITE_QUEUE_MAX: "1000" })
  })
  afterAll(() => service.dispose())

  test("a write that does not fit is 503 OVERLOADED with Retry-After; what was queued commits", async () => {
    const lock = await lockTreasury(service.databaseUrl)
    let released = false
    try {
      const first = postJson(service, "/api/wallets/topup", bulkItem(0))
      await lock.awaitWaiter()
      const queued = postJson(service, "/api/wallets/batch", { items: Array.from({ length: 999 }, (_, i) => bulkItem(i + 1)) })
      // The bulk request is admitted (999 + the first = 1000) once the server has read it.
      await queueDepth(service, 1000)
      const refused = await postJson(service, "/api/wallets/topup", bulkItem(2000))
      expect(refused.status).toBe(503)
      expect(refused.body.code).toBe("OVERLOADED")
      expect(refused.headers.get("retry-after")).toBe("1")
      // A bulk request is admitted whole or not at all.
      const bulkRefused = await postJson(service, "/api/wallets/batch", { items: [bulkItem(5000), bulkItem(5001)] })
      expect(bulkRefused.status).toBe(503)
      expect(bulkRefused.body.code).toBe("OVERLOADED")

      await lock.release()
      released = true
      expect((await first).status).toBe(201)
      const bulk = await queued
      expect(bulk.status).toBe(200)
      expect((bulk.body.results as Array<{ status: number }>).every((r) => r.status === 201)).toBe(true)
    } finally {
      if (!released) await lock.release()
    }
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })
})

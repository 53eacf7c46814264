import { afterAll, beforeAll, expect, test } from "bun:test"
import pg from "pg"
import { request } from "../support/ServiceProcess.ts"
import { startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * A client that gives up on a write (its timeout, a closed socket) is not a server error: the
 * request is counted and logged as 499, not as a 500 with an "Unhandled failure" error line, so
 * that a burst of impatient clients does not look like a broken service on the 5xx dashboards.
 * The write itself still commits once its batch runs, and a retry with the key replays it.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const countOf = (metrics: string, status: number) => {
  const line = metrics.split("\n").find((l) =>
    l.startsWith("http_requests_total{") && l.includes(`status="${status}"`) && l.includes(`method="POST"`)
  )
  return line === undefined ? 0 : Number(line.split(" ").at(-1))
}

/** POST counts by status; the metrics are the test process's, shared with other suites, so only differences count. */
const postCounts = async () => {
  const metrics = await request(service.baseUrl, "GET", "/api/metrics")
  const text = metrics._tag === "Answered" ? String(metrics.body) : ""
  return { 499: countOf(text, 499), 500: countOf(text, 500) }
}

test("a client that gives up on its write is a 499, not a 500", async () => {
  const before = await postCounts()
  const key = uniqueKey("abort")
  const write = { userId: 2, assetCode: "GOLD_COINS", amount: 5, idempotencyKey: key }
  const lock = new pg.Client({ connectionString: service.databaseUrl })
  await lock.connect()
  try {
    // The treasury's wallet locked, the write's batch waits, and the client gives up.
    await lock.query("BEGIN")
    await lock.query("SELECT id FROM wallets WHERE user_id = 1 AND asset_code = 'GOLD_COINS' FOR UPDATE")
    const gaveUp = await request(service.baseUrl, "POST", "/api/wallets/topup", write, 200)
    expect(gaveUp._tag).toBe("NoAnswer")
    await Bun.sleep(100)
    await lock.query("COMMIT")
  } finally {
    await lock.end()
  }
  const retry = await request(service.baseUrl, "POST", "/api/wallets/topup", write)
  expect(retry._tag === "Answered" && retry.status).toBe(201)
  expect(retry._tag === "Answered" && retry.headers["idempotent-replayed"]).toBe("true")

  const after = await postCounts()
  expect({ 499: after[499] - before[499], 500: after[500] - before[500] }).toEqual({ 499: 1, 500: 0 })
})

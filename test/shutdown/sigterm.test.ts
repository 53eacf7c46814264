import { afterAll, beforeAll, expect, test } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { spawn } from "node:child_process"
import { join } from "node:path"
import pg from "pg"
import { DatabaseUrl } from "../../src/Sql.ts"
import { freePort, FreshDatabaseLive } from "../support/Database.ts"
import { testAdminKey } from "../support/TestApiKey.ts"

/**
 * The service as `npm start` runs it, in its own process, stopped with SIGTERM in the middle of
 * a burst of writes: every request it admitted must be answered and committed, the rest refused
 * cleanly, and the process must exit on its own.
 */

const database = ManagedRuntime.make(Layer.fresh(FreshDatabaseLive))
let databaseUrl: string
beforeAll(async () => {
  databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
})
afterAll(() => database.dispose())

test("SIGTERM drains the requests in flight, then exits", async () => {
  const port = await freePort()
  const root = join(import.meta.dir, "..", "..")
  const child = spawn(join(root, "node_modules", ".bin", "bun"), ["run", "src/main.ts"], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: "127.0.0.1",
      LOG_LEVEL: "warn",
      ADMIN_API_KEY: testAdminKey
    },
    stdio: ["ignore", "ignore", "inherit"]
  })
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)))
  const baseUrl = `http://127.0.0.1:${port}`
  const post = (path: string, body: unknown) =>
    fetch(baseUrl + path, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${testAdminKey}` },
      body: JSON.stringify(body)
    })

  for (let attempt = 0; attempt < 150; attempt++) {
    if (await fetch(`${baseUrl}/api/health`).then((r) => r.ok, () => false)) break
    await Bun.sleep(100)
  }
  const funded = await post("/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 100_000, idempotencyKey: "sigterm-fund" })
  expect(funded.status).toBe(201)

  const burst = Array.from({ length: 300 }, (_, i) =>
    post("/api/wallets/spend", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: `sigterm-${i}` }).then(
      (response) => response.status,
      () => "refused" as const // the listener was already closed
    ))
  await Bun.sleep(30)
  child.kill("SIGTERM")
  const statuses = await Promise.all(burst)
  expect(await exited).toBe(0)

  // Every answer is a commit (201) or a clean refusal; nothing half-done.
  for (const status of statuses) expect([201, 503, "refused"]).toContain(status)
  const answered = statuses.filter((s) => s === 201).length
  expect(answered).toBeGreaterThan(0)

  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const written = await client.query(`SELECT count(*)::int AS n FROM transactions WHERE type = 'SPEND'`)
    expect(written.rows[0].n).toBe(answered)
    const balance = await client.query(`SELECT balance::int AS balance FROM wallets WHERE user_id = 2 AND asset_code = 'GOLD_COINS'`)
    expect(balance.rows[0].balance).toBe(1_000 + 100_000 - answered)
  } finally {
    await client.end()
  }
})

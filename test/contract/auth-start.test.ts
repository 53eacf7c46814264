import { afterAll, beforeAll, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash } from "node:crypto"
import { mkdtemp, readFile, rm, stat } from "node:fs/promises"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { ApiKeyRepository } from "../../src/ledger/ApiKeyRepository.ts"
import { DatabaseUrl, SqlLive } from "../../src/Sql.ts"
import { freePort, FreshDatabaseLive } from "../support/Database.ts"
import { exitWithin, healthWithin, logLines, repositoryRoot, startMain } from "../support/MainProcess.ts"
import { request, startServiceProcess } from "../support/ServiceProcess.ts"
import { testAdminKey } from "../support/TestApiKey.ts"
import { startService } from "../support/TestService.ts"

/**
 * How a service gets its first key: ADMIN_API_KEY, or a first admin key made at the first start
 * (logged once, and written to a 0600 file with the embedded database); AUTH_DISABLED; and a
 * weak ADMIN_API_KEY refused at start.
 */

let folder: string
beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), "dino-wallet-auth-"))
})
afterAll(() => rm(folder, { recursive: true, force: true }))

const createdLines = (output: string) =>
  logLines(output).filter((line) => String(line.message).startsWith("Created the first admin API key"))

/** Runs `f` with a fresh database of its own (migrated), to start processes over and to look into. */
const withFreshDatabase = async <A>(
  f: (databaseUrl: string, database: ManagedRuntime.ManagedRuntime<SqlClient.SqlClient, unknown>) => Promise<A>
) => {
  const database = ManagedRuntime.make(Layer.provideMerge(SqlLive, FreshDatabaseLive))
  try {
    return await f(Redacted.value(await database.runPromise(DatabaseUrl)), database)
  } finally {
    await database.dispose()
  }
}

test("without ADMIN_API_KEY the first start makes one admin key and writes it to the key file, mode 0600", async () => {
  const keyFile = join(folder, "data", "admin-api-key")
  const service = await startService({ ADMIN_API_KEY: "" }, { adminKeyFile: keyFile })
  try {
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
    const key = (await readFile(keyFile, "utf8")).trim()
    expect(key).toMatch(/^dwk_[A-Za-z0-9_-]{43}$/)
    const list = await service.fetch("/api/keys", { headers: { authorization: `Bearer ${key}` } })
    expect(list.status).toBe(200)
    const items = ((await list.json()) as { items: Array<{ name: string; scopes: Array<string> }> }).items
    expect(items.map((item) => [item.name, item.scopes])).toEqual([["first admin key", ["admin"]]])
    // No ADMIN_API_KEY here: the test key opens nothing.
    expect((await service.fetch("/api/keys")).status).toBe(401)
  } finally {
    await service.dispose()
  }
})

test("two first starts at once on one database make one admin key between them", async () => {
  await withFreshDatabase(async (databaseUrl, database) => {
    const both = await Promise.all([
      startServiceProcess(databaseUrl, { ADMIN_API_KEY: "" }),
      startServiceProcess(databaseUrl, { ADMIN_API_KEY: "" })
    ])
    await Promise.all(both.map((service) => service.kill()))
    const keys = await database.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ name: string }>`SELECT name FROM api_keys`))
    expect(keys.map((key) => key.name)).toEqual(["first admin key"])
  })
}, 60_000)

test("sixteen concurrent first-key inserts on one database make one key (the advisory lock)", async () => {
  const database = ManagedRuntime.make(ApiKeyRepository.Default.pipe(Layer.provideMerge(SqlLive), Layer.provideMerge(FreshDatabaseLive)))
  try {
    const made = await database.runPromise(Effect.flatMap(ApiKeyRepository, (repository) =>
      Effect.all(
        Array.from({ length: 16 }, (_, i) =>
          repository.insertFirst({ name: `racer ${i}`, scopes: ["admin"], keyHash: createHash("sha256").update(`racer ${i}`).digest() })),
        { concurrency: "unbounded" }
      )))
    expect(made.filter(Option.isSome).length).toBe(1)
    const keys = await database.runPromise(Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ name: string }>`SELECT name FROM api_keys`))
    expect(keys.length).toBe(1)
  } finally {
    await database.dispose()
  }
})

test("the first admin key is logged once, in one line, at its first start only (none with ADMIN_API_KEY)", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    const run = async (env: Record<string, string>) => {
      const port = await freePort()
      const main = startMain({
        cwd: repositoryRoot,
        env: { DATABASE_URL: databaseUrl, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "error", ...env }
      })
      try {
        expect(await healthWithin(main, `http://127.0.0.1:${port}`, 30_000)).toBe(200)
      } finally {
        main.kill("SIGTERM")
        await exitWithin(main, 15_000)
      }
      return main.output()
    }
    // With ADMIN_API_KEY nothing is made, even on an empty table.
    expect(createdLines(await run({})).length).toBe(0)
    // Shown even at LOG_LEVEL=error: it may be the only copy of the key.
    const first = createdLines(await run({ ADMIN_API_KEY: "" }))
    expect(first.length).toBe(1)
    const key = /dwk_[A-Za-z0-9_-]{43}/.exec(String(first[0]!.message))?.[0]
    expect(key).toBeDefined()
    // With DATABASE_URL, no file: the log line is the copy.
    expect(String(first[0]!.message)).not.toContain("written to")
    expect(createdLines(await run({ ADMIN_API_KEY: "" })).length).toBe(0)
  })
}, 90_000)

test("AUTH_DISABLED=true serves requests without a key, as admin, and warns at start", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    const port = await freePort()
    const baseUrl = `http://127.0.0.1:${port}`
    const main = startMain({
      cwd: repositoryRoot,
      env: { DATABASE_URL: databaseUrl, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "warn", AUTH_DISABLED: "true" }
  })
  try {
    expect(await healthWithin(main, baseUrl, 30_000)).toBe(200)
    const read = await request(baseUrl, "GET", "/api/wallets/2/balance", undefined, 5_000, { apiKey: null })
    expect(read._tag === "Answered" && read.status).toBe(200)
    const write = await request(baseUrl, "POST", "/api/wallets/bonus", {
      userId: 2,
      assetCode: "GOLD_COINS",
      amount: 1,
      idempotencyKey: "auth-disabled-1"
    }, 5_000, { apiKey: null })
    expect(write._tag === "Answered" && write.status).toBe(201)
    const keys = await request(baseUrl, "GET", "/api/keys", undefined, 5_000, { apiKey: null })
    expect(keys._tag === "Answered" && keys.status).toBe(200)
  } finally {
    main.kill("SIGTERM")
    await exitWithin(main, 15_000)
  }
  const warnings = logLines(main.output()).filter((line) => String(line.message).includes("AUTH_DISABLED"))
  expect(warnings.length).toBe(1)
  expect(warnings[0]!.logLevel).toBe("WARN")
  // No first key is made while auth is off.
  expect(createdLines(main.output()).length).toBe(0)
  })
}, 60_000)

test("an ADMIN_API_KEY shorter than 32 characters stops the start with one line naming it, not its value", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    const main = startMain({
      cwd: repositoryRoot,
      env: { DATABASE_URL: databaseUrl, PORT: String(await freePort()), HOST: "127.0.0.1", ADMIN_API_KEY: "tooShortSecret1234" }
  })
  expect(await exitWithin(main, 20_000)).toBe(1)
  expect(main.output()).toContain("ADMIN_API_KEY")
  expect(main.output()).not.toContain("tooShortSecret1234")
  expect(testAdminKey.length).toBeGreaterThanOrEqual(32)
  })
}, 30_000)

test("AUTH_DISABLED=true with NODE_ENV=production stops the start with one line saying why", async () => {
  await withFreshDatabase(async (databaseUrl) => {
    const main = startMain({
      cwd: repositoryRoot,
      env: {
        DATABASE_URL: databaseUrl,
        PORT: String(await freePort()),
        HOST: "127.0.0.1",
        LOG_LEVEL: "warn",
        NODE_ENV: "production",
        AUTH_DISABLED: "true"
      }
    })
    expect(await exitWithin(main, 20_000)).toBe(1)
    const refusals = logLines(main.output()).filter((line) => String(line.message).includes("AUTH_DISABLED=true is refused"))
    expect(refusals.length).toBe(1)
    expect(refusals[0]!.logLevel).toBe("FATAL")
    expect(refusals[0]!.message).toContain("NODE_ENV=production")
    // It never served: the warning of a start without auth was not reached.
    expect(main.output()).not.toContain("every request is served without an API key, with admin rights")
  })
}, 30_000)

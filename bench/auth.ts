import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { createHash, randomBytes, randomUUID } from "node:crypto"
import { ApiKeyId } from "../src/domain/ApiKey.ts"
import { ApiKeyRepository, type ApiKeyRow } from "../src/ledger/ApiKeyRepository.ts"
import { AdminKeyFile, ApiKeys } from "../src/wallet/ApiKeys.ts"

/**
 * What the API key check costs a request, alone: `bun run bench/auth.ts`. The key table is the
 * service's own code over BENCH_AUTH_KEYS stored keys (default 1,000) held in memory, as the
 * service holds them; no database is involved, as none is per request. Prints the CPU time per
 * check for a stored key, for ADMIN_API_KEY, and for an unknown key.
 */

const keyCount = Number(process.env.BENCH_AUTH_KEYS ?? 1_000)
const iterations = Number(process.env.BENCH_AUTH_ITERATIONS ?? 200_000)

const secret = () => `dwk_${randomBytes(32).toString("base64url")}`
const stored = Array.from({ length: keyCount }, () => secret())
const adminKey = secret()
const rows: ReadonlyArray<ApiKeyRow> = stored.map((key, i) => ({
  id: ApiKeyId.make(randomUUID()),
  name: `key ${i}`,
  scopes: i % 2 === 0 ? ["read"] : ["read", "write"],
  keyHash: createHash("sha256").update(key).digest(),
  createdAt: new Date(),
  revokedAt: null
}))

const inMemoryRepository = Layer.succeed(
  ApiKeyRepository,
  ApiKeyRepository.make({
    insert: () => Effect.die("not in this bench"),
    insertFirst: () => Effect.succeed(Option.none()),
    all: Effect.succeed(rows),
    revoke: () => Effect.succeed(Option.none()),
    version: Effect.succeed({ keys: rows.length, revoked: 0 })
  })
)

const runtime = ManagedRuntime.make(
  ApiKeys.Default.pipe(
    Layer.provide(inMemoryRepository),
    Layer.provide(Layer.succeed(AdminKeyFile, Option.none())),
    Layer.provide(Layer.setConfigProvider(ConfigProvider.fromMap(new Map([["ADMIN_API_KEY", adminKey]])))),
    Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
  )
)

const keys = await runtime.runPromise(ApiKeys)

const measure = (label: string, token: string) => {
  const redacted = Redacted.make(token)
  const check = Effect.either(keys.authorize(redacted, "read"))
  for (let i = 0; i < 10_000; i++) Effect.runSync(check)
  const cpuBefore = process.cpuUsage()
  const startedNs = Bun.nanoseconds()
  for (let i = 0; i < iterations; i++) Effect.runSync(check)
  const wallNs = Bun.nanoseconds() - startedNs
  const cpu = process.cpuUsage(cpuBefore)
  const cpuUsPerCheck = (cpu.user + cpu.system) / iterations
  console.log(
    `${label.padEnd(24)} ${cpuUsPerCheck.toFixed(2)} µs CPU per check (${(wallNs / iterations / 1000).toFixed(2)} µs wall), ${iterations} checks`
  )
}

console.log(`API key check, ${keyCount} stored keys in memory:`)
measure("stored key", stored[Math.floor(keyCount / 2)]!)
measure("ADMIN_API_KEY", adminKey)
measure("unknown key (401)", secret())
await runtime.dispose()

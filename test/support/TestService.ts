import { expect } from "bun:test"
import { FetchHttpClient } from "@effect/platform"
import { BunHttpServer } from "@effect/platform-bun"
import * as SqlClient from "@effect/sql/SqlClient"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import { makeWalletClient, type WalletClient } from "../../src/client.ts"
import { UserId } from "../../src/domain/User.ts"
import type { RequestGate } from "../../src/http/RequestGate.ts"
import { ServiceLive } from "../../src/Service.ts"
import { DatabaseUrl } from "../../src/Sql.ts"
import { AdminKeyFile } from "../../src/wallet/ApiKeys.ts"
import { freePort, FreshDatabaseLive } from "./Database.ts"
import { testAdminKey, withTestKey } from "./TestApiKey.ts"

/**
 * The real service, layer graph and all, on a free port over a database of its own. Tests
 * talk to it through the derived client (or raw fetch for malformed input) and read the
 * ledger through its SqlClient to check invariants (or reach its RequestGate to start a drain).
 */
export interface TestService {
  readonly baseUrl: string
  readonly databaseUrl: string
  /** The derived client, sending the test admin key. */
  readonly client: WalletClient
  readonly run: <A, E>(effect: Effect.Effect<A, E, SqlClient.SqlClient | RequestGate>) => Promise<A>
  /** fetch with the test admin key, unless `init.headers` has an Authorization header of its own. */
  readonly fetch: (path: string, init?: RequestInit) => Promise<Response>
  readonly dispose: () => Promise<void>
}

/**
 * `config` is settings such as WRITE_BATCH_MAX for this service only, over the environment's;
 * ADMIN_API_KEY is the test key unless it says otherwise (`ADMIN_API_KEY: ""` for none).
 * `adminKeyFile` is where a first admin key would be written, as the embedded database's is.
 */
export const startService = async (
  config: Record<string, string> = {},
  options: { readonly adminKeyFile?: string } = {}
): Promise<TestService> => {
  const port = await freePort()
  const settings = { ADMIN_API_KEY: testAdminKey, ...config }
  const runtime = ManagedRuntime.make(
    ServiceLive(BunHttpServer.layer({ port, hostname: "127.0.0.1" })).pipe(
      Layer.provideMerge(FreshDatabaseLive),
      Layer.provide(Layer.succeed(AdminKeyFile, Option.fromNullable(options.adminKeyFile))),
      Layer.provide(Layer.setConfigProvider(
        ConfigProvider.fromMap(new Map(Object.entries(settings))).pipe(ConfigProvider.orElse(() => ConfigProvider.fromEnv()))
      )),
      Layer.provideMerge(FetchHttpClient.layer),
      // Request lines would drown the test report; unexpected errors still show.
      Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))
    )
  )
  const baseUrl = `http://127.0.0.1:${port}`
  const client = await runtime.runPromise(makeWalletClient(baseUrl, { apiKey: testAdminKey, generateIdempotencyKeys: false }))
  const databaseUrl = Redacted.value(await runtime.runPromise(DatabaseUrl))
  return {
    baseUrl,
    databaseUrl,
    client,
    run: (effect) => runtime.runPromise(effect),
    fetch: (path, init) => fetch(baseUrl + path, { ...init, headers: withTestKey(init?.headers) }),
    dispose: () => runtime.dispose()
  }
}

/** POSTs a JSON value (or a raw string, sent as is) and returns status, headers and parsed body. */
export const postJson = async (service: TestService, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const response = await service.fetch(path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body)
  })
  const text = await response.text()
  return { status: response.status, headers: response.headers, text, body: JSON.parse(text) as Record<string, unknown> }
}

export const getJson = async (service: TestService, path: string) => {
  const response = await service.fetch(path)
  const text = await response.text()
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as Record<string, unknown> }
}

/** A new player, with `gold` Gold Coins topped up when more than 0; its user id. */
export const newPlayer = async (service: TestService, label: string, gold = 0) => {
  const created = await postJson(service, "/api/users", { username: `${label}_${uniqueKey("u").replace(/-/g, "_")}` })
  expect(created.status).toBe(201)
  const userId = UserId.make(created.body.userId as number)
  if (gold > 0) {
    const funded = await postJson(service, "/api/wallets/topup", { userId, assetCode: "GOLD_COINS", amount: gold, idempotencyKey: uniqueKey() })
    expect(funded.status).toBe(201)
  }
  return userId
}

let keySequence = 0
/** A key no other request in this process uses. */
export const uniqueKey = (label = "k") => `${label}-${process.pid}-${Date.now().toString(36)}-${++keySequence}`

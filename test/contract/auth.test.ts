import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { makeFetchWalletClient } from "../../src/client.ts"
import type { Scope } from "../../src/domain/ApiKey.ts"
import { UserId } from "../../src/domain/User.ts"
import { WalletApi } from "../../src/http/Api.ts"
import { testAdminKey } from "../support/TestApiKey.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Every endpoint against every kind of caller: no key, a key the service does not know, a key
 * without the endpoint's scope, and a key with exactly that scope. The table must name every
 * endpoint of the contract, so an endpoint added without a row (and so without a decided scope)
 * fails here.
 */

interface Call {
  readonly method: "GET" | "POST" | "PATCH" | "DELETE"
  readonly path: string
  readonly body?: unknown
}

interface Row {
  /** null: public, answered without a key; "any": any valid key, whatever its scopes. */
  readonly scope: Scope | "any" | null
  readonly status: number
  /** A fresh request each time, so that a write applies (a new idempotency key, a new name). */
  readonly call: () => Promise<Call>
}

let service: TestService
const keys: Partial<Record<"read" | "write" | "admin" | "readWrite" | "writeAdminless", string>> = {}

const createKey = async (name: string, scopes: ReadonlyArray<Scope>) => {
  const created = await postJson(service, "/api/keys", { name, scopes })
  expect(created.status).toBe(201)
  return created.body as { keyId: string; key: string }
}

const write = (path: string, amount = 1) => async (): Promise<Call> => ({
  method: "POST",
  path,
  body: { userId: 2, assetCode: "GOLD_COINS", amount, idempotencyKey: uniqueKey("auth") }
})

/** A fresh hold of one gold coin of user 2, made with the test admin key. */
const newHold = async () => {
  const held = await postJson(service, "/api/holds", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey("auth") })
  expect(held.status).toBe(201)
  return held.body.holdId as string
}

/** A fresh webhook endpoint (to a closed port: nothing is delivered in this suite), made with the test admin key. */
const newWebhook = async () => {
  const created = await postJson(service, "/api/webhooks", { url: "http://127.0.0.1:9/auth-table" })
  expect(created.status).toBe(201)
  return created.body.webhookId as string
}

const table: Record<string, Row> = {
  "wallets.topup": { scope: "write", status: 201, call: write("/api/wallets/topup") },
  "wallets.bonus": { scope: "write", status: 201, call: write("/api/wallets/bonus") },
  "wallets.spend": { scope: "write", status: 201, call: write("/api/wallets/spend") },
  "wallets.transfer": {
    scope: "write",
    status: 201,
    call: async () => ({
      method: "POST",
      path: "/api/wallets/transfer",
      body: { fromUserId: 2, toUserId: 3, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey("auth") }
    })
  },
  "transactions.create": {
    scope: "write",
    status: 201,
    call: async () => ({
      method: "POST",
      path: "/api/transactions",
      body: { legs: [{ fromUserId: 1, toUserId: 2, assetCode: "GOLD_COINS", amount: 1 }], idempotencyKey: uniqueKey("auth") }
    })
  },
  "wallets.bulk": {
    scope: "write",
    status: 200,
    call: async () => ({
      method: "POST",
      path: "/api/wallets/batch",
      body: { items: [{ type: "BONUS", userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey("auth") }] }
    })
  },
  "wallets.balance": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/wallets/2/balance" }) },
  "wallets.history": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/wallets/2/transactions" }) },
  "users.create": {
    scope: "write",
    status: 201,
    call: async () => ({ method: "POST", path: "/api/users", body: { username: uniqueKey("u").slice(0, 60) } })
  },
  "users.find": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/users?username=shivansh" }) },
  "users.get": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/users/2" }) },
  "metrics.scrape": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/metrics" }) },
  "transactions.get": {
    scope: "read",
    status: 200,
    call: async () => {
      const written = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "DIAMONDS", amount: 1, idempotencyKey: uniqueKey("auth") })
      return { method: "GET", path: `/api/transactions/${written.body.transactionId}` }
    }
  },
  "transactions.reverse": {
    scope: "write",
    status: 201,
    call: async () => {
      const written = await postJson(service, "/api/wallets/bonus", { userId: 2, assetCode: "DIAMONDS", amount: 1, idempotencyKey: uniqueKey("auth") })
      return { method: "POST", path: `/api/transactions/${written.body.transactionId}/reversal`, body: { idempotencyKey: uniqueKey("auth") } }
    }
  },
  "transactions.search": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/transactions?userId=2" }) },
  "holds.create": {
    scope: "write",
    status: 201,
    call: async () => ({
      method: "POST",
      path: "/api/holds",
      body: { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey("auth") }
    })
  },
  "holds.capture": {
    scope: "write",
    status: 201,
    call: async () => ({ method: "POST", path: `/api/holds/${await newHold()}/capture`, body: { idempotencyKey: uniqueKey("auth") } })
  },
  "holds.void": {
    scope: "write",
    status: 200,
    call: async () => ({ method: "POST", path: `/api/holds/${await newHold()}/void`, body: { idempotencyKey: uniqueKey("auth") } })
  },
  "holds.get": { scope: "read", status: 200, call: async () => ({ method: "GET", path: `/api/holds/${await newHold()}` }) },
  "holds.list": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/holds?userId=2&limit=5" }) },
  "assets.list": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/assets" }) },
  "assets.create": {
    scope: "admin",
    status: 201,
    call: async () => ({
      method: "POST",
      path: "/api/assets",
      body: { code: `A${uniqueKey("").replace(/[^A-Za-z0-9]/g, "").toUpperCase()}`.slice(0, 32), name: "Auth table asset" }
    })
  },
  "assets.update": {
    scope: "admin",
    status: 200,
    call: async () => ({ method: "PATCH", path: "/api/assets/DIAMONDS", body: { name: "Diamonds", maxDebt: 0 } })
  },
  "reconciliation.reconcile": { scope: "admin", status: 200, call: async () => ({ method: "GET", path: "/api/reconciliation" }) },
  "keys.create": {
    scope: "admin",
    status: 201,
    call: async () => ({ method: "POST", path: "/api/keys", body: { name: "made by the table", scopes: ["read"] } })
  },
  "keys.list": { scope: "admin", status: 200, call: async () => ({ method: "GET", path: "/api/keys" }) },
  "keys.revoke": {
    scope: "admin",
    status: 200,
    call: async () => ({ method: "DELETE", path: `/api/keys/${(await createKey("to revoke", ["read"])).keyId}` })
  },
  "auth.whoami": { scope: "any", status: 200, call: async () => ({ method: "GET", path: "/api/auth/whoami" }) },
  "events.feed": { scope: "read", status: 200, call: async () => ({ method: "GET", path: "/api/events?limit=5" }) },
  "webhooks.create": {
    scope: "admin",
    status: 201,
    call: async () => ({ method: "POST", path: "/api/webhooks", body: { url: "http://127.0.0.1:9/auth-table" } })
  },
  "webhooks.list": { scope: "admin", status: 200, call: async () => ({ method: "GET", path: "/api/webhooks" }) },
  "webhooks.remove": {
    scope: "admin",
    status: 204,
    call: async () => ({ method: "DELETE", path: `/api/webhooks/${await newWebhook()}` })
  },
  "webhooks.deliveries": {
    scope: "admin",
    status: 200,
    call: async () => ({ method: "GET", path: `/api/webhooks/${await newWebhook()}/deliveries` })
  },
  "health.check": { scope: null, status: 200, call: async () => ({ method: "GET", path: "/api/health" }) },
  "health.live": { scope: null, status: 200, call: async () => ({ method: "GET", path: "/api/health/live" }) },
  "health.ready": { scope: null, status: 200, call: async () => ({ method: "GET", path: "/api/health/ready" }) }
}

/** Sends a call with exactly the Authorization header given (none when undefined). */
const send = async (call: Call, authorization: string | undefined) => {
  const response = await fetch(service.baseUrl + call.path, {
    method: call.method,
    headers: {
      ...(call.body === undefined ? {} : { "content-type": "application/json" }),
      ...(authorization === undefined ? {} : { authorization })
    },
    ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) })
  })
  const text = await response.text()
  let body: Record<string, unknown> = {}
  try {
    body = JSON.parse(text) as Record<string, unknown>
  } catch {
    // Metrics are text; only error bodies are looked into.
  }
  return { status: response.status, headers: response.headers, body }
}

/** A key whose scopes do not include `scope` (nor admin). */
const wrongKeyFor = (scope: Scope) => scope === "read" ? keys.write! : scope === "write" ? keys.read! : keys.readWrite!
const rightKeyFor = (scope: Scope) => keys[scope]!

beforeAll(async () => {
  service = await startService()
  keys.read = (await createKey("reader", ["read"])).key
  keys.write = (await createKey("writer", ["write"])).key
  keys.admin = (await createKey("admin", ["admin"])).key
  keys.readWrite = (await createKey("reader and writer", ["read", "write"])).key
})
afterAll(() => service.dispose())

test("the table names every endpoint of the contract", () => {
  const endpoints = Object.values(WalletApi.groups).flatMap((group) =>
    Object.values(group.endpoints).map((endpoint) => `${group.identifier}.${endpoint.name}`)
  )
  expect(Object.keys(table).sort()).toEqual(endpoints.sort())
})

describe.each(Object.entries(table))("%s", (_name, row) => {
  if (row.scope === null) {
    test("answers without a key", async () => {
      expect((await send(await row.call(), undefined)).status).toBe(row.status)
    })
    return
  }
  const scope = row.scope

  test("no key: 401 UNAUTHORIZED with WWW-Authenticate: Bearer", async () => {
    const answer = await send(await row.call(), undefined)
    expect(answer.status).toBe(401)
    expect(answer.headers.get("www-authenticate")).toBe("Bearer")
    expect(answer.body).toMatchObject({ code: "UNAUTHORIZED", _tag: "Unauthorized" })
    expect(typeof answer.body.message).toBe("string")
    expect(answer.body.requestId).toBe(answer.headers.get("x-request-id")!)
  })

  test("an unknown key, or another scheme: 401", async () => {
    for (const authorization of [`Bearer dwk_${"A".repeat(43)}`, "Bearer ", `Basic ${btoa(`x:${testAdminKey}`)}`, testAdminKey]) {
      const answer = await send(await row.call(), authorization)
      expect({ authorization, status: answer.status, code: answer.body.code }).toEqual({
        authorization,
        status: 401,
        code: "UNAUTHORIZED"
      })
      expect(answer.headers.get("www-authenticate")).toBe("Bearer")
    }
  })

  if (scope === "any") {
    test("every valid key, whatever its scopes: 200", async () => {
      for (const key of [keys.read!, keys.write!, keys.admin!, testAdminKey]) {
        expect((await send(await row.call(), `Bearer ${key}`)).status).toBe(row.status)
      }
    })
    return
  }

  test(`a key without ${scope}: 403 FORBIDDEN`, async () => {
    const answer = await send(await row.call(), `Bearer ${wrongKeyFor(scope)}`)
    expect(answer.status).toBe(403)
    expect(answer.headers.get("www-authenticate")).toBeNull()
    expect(answer.body).toMatchObject({ code: "FORBIDDEN", _tag: "Forbidden", requiredScope: scope })
    expect(answer.body.requestId).toBe(answer.headers.get("x-request-id")!)
  })

  test(`a key with ${scope}: ${row.status}`, async () => {
    expect((await send(await row.call(), `Bearer ${rightKeyFor(scope)}`)).status).toBe(row.status)
  })

  test(`an admin key (stored, and ADMIN_API_KEY): ${row.status}`, async () => {
    expect((await send(await row.call(), `Bearer ${keys.admin!}`)).status).toBe(row.status)
    expect((await send(await row.call(), `Bearer ${testAdminKey}`)).status).toBe(row.status)
  })
})

test("the OpenAPI document and the docs page need no key; the document names the scheme and each scope", async () => {
  const docs = await send({ method: "GET", path: "/docs" }, undefined)
  expect(docs.status).toBe(200)
  const document = await send({ method: "GET", path: "/api/openapi.json" }, undefined)
  expect(document.status).toBe(200)
  const spec = document.body as {
    components: { securitySchemes: Record<string, { type: string; scheme: string }> }
    paths: Record<string, Record<string, { security?: Array<unknown>; "x-required-scope"?: string; responses: Record<string, unknown> }>>
  }
  expect(spec.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" })
  const scopes: Record<string, string | undefined> = {}
  for (const [path, operations] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      scopes[`${method.toUpperCase()} ${path}`] = operation["x-required-scope"]
      if (operation["x-required-scope"] !== undefined) {
        expect(operation.security).toEqual([{ bearer: [] }])
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(["401", "403"]))
      } else {
        expect(operation.security ?? []).toEqual([])
      }
    }
  }
  expect(scopes).toEqual({
    "POST /api/wallets/topup": "write",
    "POST /api/wallets/transfer": "write",
    "POST /api/wallets/bonus": "write",
    "POST /api/wallets/spend": "write",
    "POST /api/wallets/batch": "write",
    "GET /api/wallets/{userId}/balance": "read",
    "GET /api/wallets/{userId}/transactions": "read",
    "GET /api/events": "read",
    "POST /api/webhooks": "admin",
    "GET /api/webhooks": "admin",
    "DELETE /api/webhooks/{webhookId}": "admin",
    "GET /api/webhooks/{webhookId}/deliveries": "admin",
    "POST /api/transactions": "write",
    "POST /api/transactions/{transactionId}/reversal": "write",
    "POST /api/holds": "write",
    "POST /api/holds/{holdId}/capture": "write",
    "POST /api/holds/{holdId}/void": "write",
    "GET /api/holds": "read",
    "GET /api/holds/{holdId}": "read",
    "POST /api/users": "write",
    "GET /api/users": "read",
    "GET /api/users/{userId}": "read",
    "GET /api/transactions/{transactionId}": "read",
    "GET /api/transactions": "read",
    "GET /api/assets": "read",
    "POST /api/assets": "admin",
    "PATCH /api/assets/{code}": "admin",
    "GET /api/reconciliation": "admin",
    "GET /api/health": undefined,
    "GET /api/health/live": undefined,
    "GET /api/health/ready": undefined,
    "GET /api/metrics": "read",
    "POST /api/keys": "admin",
    "GET /api/keys": "admin",
    "DELETE /api/keys/{keyId}": "admin",
    "GET /api/auth/whoami": "any"
  })
})

test("the typed client sends its apiKey and decodes 401 and 403 into their tagged errors", async () => {
  const balance = (apiKey?: string) =>
    Effect.runPromise(
      makeFetchWalletClient(service.baseUrl, apiKey === undefined ? {} : { apiKey }).pipe(
        Effect.flatMap((client) => client.wallets.balance({ path: { userId: UserId.make(2) }, urlParams: {} })),
        Effect.match({ onFailure: (error) => error._tag, onSuccess: () => "ok" })
      )
    )
  expect(await balance()).toBe("Unauthorized")
  expect(await balance(`dwk_${"B".repeat(43)}`)).toBe("Unauthorized")
  expect(await balance(keys.write!)).toBe("Forbidden")
  expect(await balance(keys.read!)).toBe("ok")
})

test("whoami names the calling key: its id, name and scopes", async () => {
  const reader = await createKey("console reader", ["read"])
  const answer = await send({ method: "GET", path: "/api/auth/whoami" }, `Bearer ${reader.key}`)
  expect(answer.body).toEqual({ keyId: reader.keyId, name: "console reader", scopes: ["read"] })
  const admin = await send({ method: "GET", path: "/api/auth/whoami" }, `Bearer ${testAdminKey}`)
  expect(admin.body).toEqual({ keyId: null, name: "ADMIN_API_KEY", scopes: ["admin"] })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { HttpServerRequest } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { connect } from "node:net"
import { RequestGate } from "../../src/http/RequestGate.ts"
import { requestLog } from "../../src/http/RequestLog.ts"
import { DatabaseUrl } from "../../src/Sql.ts"
import { dropDatabase, freePort, FreshDatabaseLive } from "../support/Database.ts"
import { exitWithin, healthWithin, logLines, repositoryRoot, startMain } from "../support/MainProcess.ts"
import { writeRequest } from "../support/Requests.ts"
import { withTestKey } from "../support/TestApiKey.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

const send = async (path: string, init: RequestInit = {}) => {
  const response = await service.fetch(path, init)
  const text = await response.text()
  return { status: response.status, id: response.headers.get("x-request-id"), text }
}

describe("X-Request-Id", () => {
  test("is generated as a UUID when the request has none, one per request", async () => {
    const first = await send("/api/health")
    const second = await send("/api/health")
    expect(first.status).toBe(200)
    expect(first.id).toMatch(uuid)
    expect(second.id).toMatch(uuid)
    expect(second.id).not.toBe(first.id)
  })

  test("is taken from the request when it is at most 128 of [A-Za-z0-9._:-]", async () => {
    for (const id of ["abc", "trace-7f3.a:b_C", "x".repeat(128), "0"]) {
      const response = await send("/api/wallets/2/balance", { headers: { "x-request-id": id } })
      expect(response.status).toBe(200)
      expect(response.id).toBe(id)
    }
  })

  test("is replaced, not echoed, when too long, empty or outside the safe characters", async () => {
    for (const id of ["x".repeat(129), "", " ", "a b", "a,b", "a\"b", "<script>", "caf\u00e9", "a/b", "a;b=c", "%0d%0a"]) {
      const response = await send("/api/health", { headers: { "x-request-id": id } })
      expect(response.status).toBe(200)
      expect(response.id).toMatch(uuid)
    }
    // Control characters cannot pass fetch: sent raw, CR/LF end the header, a tab or DEL stays in it.
    for (const raw of ["a\tb", "a\u007fb", "\u0001"]) {
      const { port } = new URL(service.baseUrl)
      const head = await new Promise<string>((resolve, reject) => {
        const socket = connect(Number(port), "127.0.0.1", () =>
          socket.write(`GET /api/health HTTP/1.1\r\nHost: x\r\nX-Request-Id: ${raw}\r\nConnection: close\r\n\r\n`, "latin1"))
        let response = ""
        socket.on("data", (chunk: Buffer) => (response += chunk.toString("latin1")))
        socket.on("error", reject)
        socket.on("end", () => resolve(response))
      })
      const echoed = /^x-request-id: (.*)$/im.exec(head)?.[1]?.trim()
      // Bun may refuse such a header itself (400); if the service answers, it names the request afresh.
      if (/^HTTP\/1\.1 200/.test(head)) expect(echoed).toMatch(uuid)
      else expect(head).toMatch(/^HTTP\/1\.1 400/)
    }
  })

  test("every error body carries the id as requestId, matching the header", async () => {
    const id = "req-errors-1"
    const headers = { "x-request-id": id }
    const json = { ...headers, "content-type": "application/json" }
    const errors = [
      await send("/api/nowhere", { headers }),
      await send("/api/wallets/topup", { headers }),
      await send("/api/wallets/abc/balance", { headers }),
      await send("/api/wallets/424242/balance", { headers }),
      await send("/api/wallets/spend", { method: "POST", headers: json, body: "{" }),
      await send("/api/wallets/spend", { method: "POST", headers: json, body: JSON.stringify({ userId: 2 }) }),
      await send("/api/wallets/spend", { method: "POST", headers: { ...headers, "content-type": "text/plain" }, body: "hi" }),
      await send("/api/wallets/spend", { method: "POST", headers: json, body: JSON.stringify({ pad: "x".repeat(70_000) }) }),
      await send("/api/wallets/spend", {
        method: "POST",
        headers: json,
        body: JSON.stringify({ userId: 3, assetCode: "GOLD_COINS", amount: 1e9, idempotencyKey: uniqueKey() })
      })
    ]
    expect(errors.map((e) => e.status)).toEqual([404, 405, 400, 404, 400, 400, 415, 413, 409])
    for (const error of errors) {
      expect(error.id).toBe(id)
      const body = JSON.parse(error.text) as Record<string, unknown>
      expect(body).toMatchObject({ requestId: id })
      expect(typeof body.code).toBe("string")
      expect(typeof body.message).toBe("string")
    }
  })

  test("success bodies are left as they are; the typed client still decodes errors", async () => {
    const ok = await postJson(service, "/api/wallets/bonus", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey() })
    expect(ok.status).toBe(201)
    expect(ok.body.requestId).toBeUndefined()
    expect(ok.headers.get("x-request-id")).toMatch(uuid)
    const refused = await service.run(Effect.flip(
      service.client.wallets.spend({
        payload: writeRequest({ userId: 3, assetCode: "DIAMONDS", amount: 1e9, idempotencyKey: uniqueKey() }),
        headers: {}
      })
    ))
    expect(refused).toMatchObject({ _tag: "InsufficientFunds", code: "INSUFFICIENT_FUNDS" })
  })

  test("the 503s a draining gate and a missing database write carry it too", async () => {
    const lonely = await startService()
    try {
      await dropDatabase(lonely.databaseUrl)
      const unavailable = await getJson(lonely, "/api/wallets/2/balance")
      expect(unavailable.status).toBe(503)
      expect(unavailable.body.requestId).toBe(unavailable.headers.get("x-request-id")!)
      await lonely.run(Effect.flatMap(RequestGate, (gate) => gate.drain("1 second")))
      const response = await lonely.fetch("/api/wallets/2/balance", { headers: { "x-request-id": "drained-1" } })
      expect(response.status).toBe(503)
      expect(response.headers.get("x-request-id")).toBe("drained-1")
      expect(response.headers.get("retry-after")).toBe("1")
      expect(await response.json()).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "shutting_down", requestId: "drained-1" })
    } finally {
      await lonely.dispose()
    }
  })

  test("the last-resort 500 carries it too", async () => {
    // The middleware alone around an app that dies outside the API's own error handling.
    const request = HttpServerRequest.fromWeb(new Request("http://localhost/api/x", { headers: { "x-request-id": "dying-1" } }))
    const response = await Effect.runPromise(
      requestLog(Effect.die("boom")).pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, request),
        Effect.provide(RequestGate.Default)
      )
    )
    expect(response.status).toBe(500)
    expect(response.headers["x-request-id"]).toBe("dying-1")
    const body = response.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(response.body.body)) : undefined
    expect(body).toMatchObject({ code: "INTERNAL_ERROR", requestId: "dying-1" })
  })

  test("a request interrupted by the service (not by its client) is a 503, safe to retry, not a 500", async () => {
    const request = HttpServerRequest.fromWeb(new Request("http://localhost/api/x", { headers: { "x-request-id": "cut-1" } }))
    const response = await Effect.runPromise(
      requestLog(Effect.interrupt).pipe(
        Effect.provideService(HttpServerRequest.HttpServerRequest, request),
        Effect.provide(RequestGate.Default)
      )
    )
    expect(response.status).toBe(503)
    expect(response.headers["retry-after"]).toBe("1")
    const body = response.body._tag === "Uint8Array" ? JSON.parse(new TextDecoder().decode(response.body.body)) : undefined
    expect(body).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "unavailable", requestId: "cut-1" })
  })
})

describe("X-Request-Id in the logs", () => {
  const database = ManagedRuntime.make(Layer.fresh(FreshDatabaseLive))
  afterAll(() => database.dispose())

  test("annotates every log line of its request, the request line and a warning alike", async () => {
    const databaseUrl = Redacted.value(await database.runPromise(DatabaseUrl))
    const port = await freePort()
    const main = startMain({
      cwd: repositoryRoot,
      env: { DATABASE_URL: databaseUrl, PORT: String(port), HOST: "127.0.0.1", LOG_LEVEL: "info", LOG_FORMAT: "json" }
    })
    const baseUrl = `http://127.0.0.1:${port}`
    try {
      expect(await healthWithin(main, baseUrl, 30_000)).toBe(200)
      await fetch(`${baseUrl}/api/wallets/2/balance`, { headers: withTestKey({ "x-request-id": "log-ok-1" }) })
      await dropDatabase(databaseUrl)
      const down = await fetch(`${baseUrl}/api/wallets/2/balance`, { headers: withTestKey({ "x-request-id": "log-down-1" }) })
      expect(down.status).toBe(503)
    } finally {
      main.kill("SIGTERM")
      await exitWithin(main, 15_000)
    }
    const lines = logLines(main.output())
    const annotations = (line: Record<string, unknown>) => (line.annotations ?? {}) as Record<string, unknown>
    const of = (id: string) => lines.filter((line) => annotations(line).requestId === id)
    expect(of("log-ok-1").map((line) => line.message)).toEqual(["request"])
    const down = of("log-down-1")
    expect(down.map((line) => line.logLevel)).toEqual(["WARN", "INFO"])
    expect(annotations(down[1]!)).toMatchObject({ status: 503, path: "/api/wallets/2/balance" })
    // Every request line names its request.
    for (const line of lines.filter((l) => l.message === "request")) expect(typeof annotations(line).requestId).toBe("string")
  })
})

test("the OpenAPI document lists requestId on every error schema", async () => {
  const doc = await getJson(service, "/api/openapi.json")
  const schemas = (doc.body.components as { schemas: Record<string, { properties?: Record<string, unknown>; required?: Array<string> }> }).schemas
  const errors = Object.entries(schemas).filter(([, schema]) => schema.properties?.code !== undefined)
  expect(errors.map(([name]) => name)).toEqual(expect.arrayContaining(["ValidationError", "InsufficientFunds", "RouteNotFound", "InternalError"]))
  for (const [, schema] of errors) {
    expect(schema.properties?.requestId).toMatchObject({ type: "string" })
    expect(schema.required).toContain("requestId")
  }
  expect(String((doc.body.info as { description: string }).description)).toContain("x-request-id")
})

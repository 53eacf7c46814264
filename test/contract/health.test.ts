import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as Effect from "effect/Effect"
import { RequestGate } from "../../src/http/RequestGate.ts"
import { dropDatabase } from "../support/Database.ts"
import { getJson, startService, type TestService } from "../support/TestService.ts"

/**
 * Liveness says the process answers, readiness that it can serve: the database answers and no
 * drain has begun. Each scenario breaks one of the two on a service of its own.
 */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

describe("health probes", () => {
  test("live and ready are 200 on a healthy service, through the typed client too", async () => {
    expect(await getJson(service, "/api/health/live")).toMatchObject({ status: 200, body: { status: "ok" } })
    expect(await getJson(service, "/api/health/ready")).toMatchObject({ status: 200, body: { status: "ok", database: "up" } })
    expect(await service.run(service.client.health.live())).toMatchObject({ status: "ok" })
    expect(await service.run(service.client.health.ready())).toMatchObject({ status: "ok", database: "up" })
    expect((await getJson(service, "/api/health")).status).toBe(200)
  })

  test("the OpenAPI document lists both probes", async () => {
    const doc = await getJson(service, "/api/openapi.json")
    expect(Object.keys(doc.body.paths as object)).toEqual(expect.arrayContaining(["/api/health/live", "/api/health/ready"]))
  })

  test("without a database, live stays 200 and ready is 503 unavailable", async () => {
    const lonely = await startService()
    try {
      await dropDatabase(lonely.databaseUrl)
      const live = await getJson(lonely, "/api/health/live")
      expect(live).toMatchObject({ status: 200, body: { status: "ok" } })
      const ready = await getJson(lonely, "/api/health/ready")
      expect(ready.status).toBe(503)
      expect(ready.body).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "unavailable" })
      expect(ready.headers.get("retry-after")).toBe("1")
    } finally {
      await lonely.dispose()
    }
  })

  test("while draining, live stays 200 and ready is 503 shutting_down", async () => {
    const draining = await startService()
    try {
      // Nothing is in flight, so the drain ends at once; the gate stays closed after it.
      await draining.run(Effect.flatMap(RequestGate, (gate) => gate.drain("1 second")))
      const live = await getJson(draining, "/api/health/live")
      expect(live).toMatchObject({ status: 200, body: { status: "ok" } })
      const ready = await getJson(draining, "/api/health/ready")
      expect(ready.status).toBe(503)
      expect(ready.body).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "shutting_down" })
      expect(ready.headers.get("retry-after")).toBe("1")
    } finally {
      await draining.dispose()
    }
  })

  test("a readiness probe admitted just before the drain began still says shutting_down", async () => {
    const program = Effect.gen(function*() {
      const gate = yield* RequestGate
      yield* gate.drain("1 second")
      return yield* Effect.flip(gate.refuseWhileDraining)
    }).pipe(Effect.provide(RequestGate.Default))
    expect(await Effect.runPromise(program)).toMatchObject({ code: "SERVICE_UNAVAILABLE", status: "shutting_down" })
  })
})

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { MaxJsonDepth, nestsDeeperThan } from "../../src/http/JsonDepth.ts"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/** Bodies the HTTP fuzz suite found answered with a 500 or an oversized message. */

let service: TestService
beforeAll(async () => {
  service = await startService()
})
afterAll(() => service.dispose())

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth)

describe("deeply nested bodies", () => {
  test("are 400 VALIDATION_ERROR at every endpoint, not a 500 from a stack overflow", async () => {
    const bodies = [
      nested(30_000),
      `{"userId":2,"assetCode":"GOLD_COINS","amount":1,"idempotencyKey":"${uniqueKey()}","description":${nested(30_000)}}`,
      `{"items":[${nested(400_000)}]}`,
      "{\"a\":".repeat(MaxJsonDepth + 1) + "1" + "}".repeat(MaxJsonDepth + 1)
    ]
    for (const path of ["/api/wallets/topup", "/api/wallets/spend", "/api/wallets/batch", "/api/users"]) {
      for (const body of bodies) {
        if (Buffer.byteLength(body) > 64 * 1024 && path !== "/api/wallets/batch") continue
        const response = await postJson(service, path, body)
        expect(response.status).toBe(400)
        expect(response.body).toMatchObject({ code: "VALIDATION_ERROR", issues: [{ path: [], message: `nested deeper than ${MaxJsonDepth} levels` }] })
      }
    }
    expect(await service.run(ledgerViolations)).toEqual(noViolations)
  })

  test("up to the limit a body is decoded as usual", async () => {
    const extra = "[".repeat(MaxJsonDepth - 1) + "]".repeat(MaxJsonDepth - 1)
    const body = `{"userId":2,"assetCode":"GOLD_COINS","amount":1,"idempotencyKey":"${uniqueKey()}","extra":${extra}}`
    expect((await postJson(service, "/api/wallets/bonus", body)).status).toBe(201)
  })

  test("brackets inside strings do not count", () => {
    expect(nestsDeeperThan(`{"a":"${"[".repeat(100)}\\"${"{".repeat(100)}"}`, 2)).toBe(false)
    expect(nestsDeeperThan("[[[]]]", 3)).toBe(false)
    expect(nestsDeeperThan("[[[[]]]]", 3)).toBe(true)
  })
})

test("a refused value is quoted in part, not echoed whole", async () => {
  const response = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey(), description: ["x".repeat(50_000)] })
  expect(response.status).toBe(400)
  expect(response.text.length).toBeLessThan(2_000)
  const issues = response.body.issues as Array<{ message: string }>
  expect(issues.every((issue) => issue.message.length <= 301)).toBe(true)
})

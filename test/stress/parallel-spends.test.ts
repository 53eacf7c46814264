import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

// Once with one request per transaction, once with the group committer's batches.
for (const writeBatchMax of ["1", "500"]) {
  describe(`WRITE_BATCH_MAX=${writeBatchMax}`, () => {
    let service: TestService
    beforeAll(async () => {
      service = await startService({ WRITE_BATCH_MAX: writeBatchMax })
    })
    afterAll(() => service.dispose())

    test("50 parallel spends against one wallet: exactly the affordable number succeed", async () => {
      const user = await postJson(service, "/api/users", { username: `stress_${writeBatchMax}_${Date.now()}` })
      const userId = user.body.userId as number
      const funded = await postJson(service, "/api/wallets/topup", {
        userId,
        assetCode: "GOLD_COINS",
        amount: 1_000,
        idempotencyKey: uniqueKey()
      })
      expect(funded.status).toBe(201)

      const responses = await Promise.all(
        Array.from({ length: 50 }, () =>
          postJson(service, "/api/wallets/spend", { userId, assetCode: "GOLD_COINS", amount: 30, idempotencyKey: uniqueKey() }))
      )

      // 1000 / 30 = 33 spends fit, leaving 10; the other 17 are refused, none fails otherwise.
      expect(responses.filter((r) => r.status === 201)).toHaveLength(33)
      expect(responses.filter((r) => r.status === 409 && r.body.code === "INSUFFICIENT_FUNDS")).toHaveLength(17)
      const balances = responses.filter((r) => r.status === 201).map((r) => r.body.balance as number).sort((a, b) => a - b)
      // Each success saw a distinct balance: the spends were applied one after another.
      expect(balances).toEqual(Array.from({ length: 33 }, (_, i) => 10 + 30 * i))
      expect(await service.run(balanceOf(userId, "GOLD_COINS"))).toBe(10)
      expect(await service.run(ledgerViolations)).toEqual(noViolations)
    })
  })
}

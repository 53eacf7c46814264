import { afterAll, beforeAll, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import { AssetCode } from "../../src/domain/Asset.ts"
import { HoldId, HoldRequest } from "../../src/domain/Hold.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { UserId } from "../../src/domain/User.ts"
import { balanceOf, ledgerViolations, noViolations } from "../support/Invariants.ts"
import { newPlayer, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * A hold whose release always fails (here a trigger of the test's own database refuses to settle
 * it, as a defect or a constraint could for one row) must not keep the others from expiring:
 * the expiry round skips it, counts it in wallet_holds_expiry_failures_total, and releases the
 * rest; and it does not try it again every round.
 */

/** The amount that marks the hold the trigger refuses to release (DDL takes no parameters: it is written out there too). */
const refusedAmount = 13

let service: TestService
beforeAll(async () => {
  service = await startService({ HOLD_EXPIRY_INTERVAL: "100 millis" })
  await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
    Effect.zipRight(
      sql`
        CREATE FUNCTION test_refuse_release() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION 'hold % may not be released (test trigger)', OLD.id;
        END $$`,
      sql`
        CREATE TRIGGER test_refuse_release BEFORE UPDATE ON holds FOR EACH ROW
          WHEN (OLD.amount = 13 AND NEW.status <> 'HELD') EXECUTE FUNCTION test_refuse_release()`
    )))
})
afterAll(() => service.dispose())

const hold = (userId: UserId, amount: number) =>
  service.run(service.client.holds.create({
    payload: HoldRequest.make({
      userId,
      assetCode: AssetCode.make("GOLD_COINS"),
      amount: Amount.make(amount),
      idempotencyKey: IdempotencyKey.make(uniqueKey("hold")),
      expiresInSeconds: 1
    }),
    headers: {}
  }))

const statusOf = (holdId: string) =>
  service.run(service.client.holds.get({ path: { holdId: HoldId.make(holdId) } })).then((found) => found.status)

const expiryFailures = async () => {
  const metrics = await (await service.fetch("/api/metrics")).text()
  return Number(/^wallet_holds_expiry_failures_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0)
}

test("a hold that cannot be released is skipped, counted, and the holds after it expire", async () => {
  const failuresBefore = await expiryFailures()
  const player = await newPlayer(service, "unreleasable", 100)
  // The refused hold first: it is the oldest, so it heads every page of due holds.
  const refused = await hold(player, refusedAmount)
  const others = [await hold(player, 10), await hold(player, 20), await hold(player, 30)]

  const deadline = Date.now() + 30_000
  let statuses = await Promise.all(others.map((h) => statusOf(h.holdId)))
  while (statuses.some((status) => status === "HELD") && Date.now() < deadline) {
    await Bun.sleep(100)
    statuses = await Promise.all(others.map((h) => statusOf(h.holdId)))
  }
  expect(statuses).toEqual(["EXPIRED", "EXPIRED", "EXPIRED"])
  expect(await statusOf(refused.holdId)).toBe("HELD")
  expect(await service.run(balanceOf(player, "GOLD_COINS"))).toBe(100 - refusedAmount)

  // Several rounds later the refused hold has still been tried once only: it is skipped, not
  // retried every round (UnreleasableRetryAfter is a minute).
  const failures = await expiryFailures()
  expect(failures - failuresBefore).toBe(1)
  const more = await hold(player, 5)
  while ((await statusOf(more.holdId)) === "HELD" && Date.now() < deadline) await Bun.sleep(100)
  expect(await statusOf(more.holdId)).toBe("EXPIRED")
  expect(await expiryFailures()).toBe(failures)
  expect(await service.run(ledgerViolations)).toEqual(noViolations)
}, 60_000)

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Generated plans of topups, bonuses, spends and repeated keys over a few users and assets,
 * fired at the running service all at once. Whatever order PostgreSQL serialises them in, the
 * ledger must balance, no player may go negative, no key may apply twice, and the balances
 * must be what applying the successful requests one by one gives. Run once with one request per
 * transaction and once with the group committer's batches, which must not change any of it.
 */

const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
type Kind = "topup" | "bonus" | "spend"

interface Request {
  readonly kind: Kind
  readonly user: number
  readonly asset: (typeof assets)[number]
  readonly amount: number
  readonly key: string
}

/** A fresh request, the exact repeat of an earlier one (a retry), or an earlier key with another body. */
type Step =
  | { readonly _tag: "Fresh"; readonly kind: Kind; readonly user: number; readonly asset: number; readonly amount: number }
  | { readonly _tag: "Retry"; readonly of: number }
  | { readonly _tag: "Reuse"; readonly of: number; readonly amount: number }

const stepArbitrary = (users: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        _tag: fc.constant("Fresh" as const),
        kind: fc.constantFrom<Kind>("topup", "bonus", "spend", "spend"),
        user: fc.nat({ max: users - 1 }),
        asset: fc.nat({ max: assets.length - 1 }),
        amount: fc.integer({ min: 1, max: 400 })
      })
    },
    { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Retry" as const), of: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Reuse" as const), of: fc.nat(), amount: fc.integer({ min: 401, max: 500 }) }) }
  )

const planArbitrary = fc.record({
  users: fc.integer({ min: 1, max: 3 }),
  opening: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 3 * assets.length, maxLength: 3 * assets.length })
}).chain(({ opening, users }) =>
  fc.record({
    users: fc.constant(users),
    opening: fc.constant(opening),
    steps: fc.array(stepArbitrary(users), { minLength: 5, maxLength: 40 })
  })
)

/** Turns steps into requests: retries and reuses point at an earlier fresh request. */
const materialise = (steps: ReadonlyArray<Step>, userIds: ReadonlyArray<number>, run: string): Array<Request> => {
  const requests: Array<Request> = []
  steps.forEach((step, index) => {
    if (step._tag === "Fresh") {
      requests.push({ kind: step.kind, user: userIds[step.user]!, asset: assets[step.asset]!, amount: step.amount, key: `${run}-${index}` })
    } else if (requests.length > 0) {
      const earlier = requests[step.of % requests.length]!
      requests.push(step._tag === "Retry" ? earlier : { ...earlier, amount: step.amount })
    }
  })
  return requests
}

let runNumber = 0

const checkPlan = async (
  service: TestService,
  plan: { users: number; opening: ReadonlyArray<number>; steps: ReadonlyArray<Step> }
) => {
  const run = uniqueKey(`plan${++runNumber}`)
  const userIds: Array<number> = []
  for (let u = 0; u < plan.users; u++) {
    const created = await postJson(service, "/api/users", { username: `${run}_${u}`.replace(/[^A-Za-z0-9_.-]/g, "_").slice(-64) })
    expect(created.status).toBe(201)
    userIds.push(created.body.userId as number)
  }
  // Opening balances, applied one by one before the storm.
  const opening = new Map<string, number>()
  for (const [u, userId] of userIds.entries()) {
    for (const [a, asset] of assets.entries()) {
      const amount = plan.opening[u * assets.length + a]!
      opening.set(`${userId}/${asset}`, amount)
      if (amount > 0) {
        const funded = await postJson(service, "/api/wallets/topup", { userId, assetCode: asset, amount, idempotencyKey: `${run}-open-${u}-${a}` })
        expect(funded.status).toBe(201)
      }
    }
  }

  const requests = materialise(plan.steps, userIds, run)
  const responses = await Promise.all(
    requests.map((r) => postJson(service, `/api/wallets/${r.kind}`, { userId: r.user, assetCode: r.asset, amount: r.amount, idempotencyKey: r.key }))
  )

  // Every answer is one the contract allows, and every error is JSON with a code.
  for (const response of responses) {
    expect([201, 409, 422]).toContain(response.status)
    if (response.status !== 201) expect(["INSUFFICIENT_FUNDS", "IDEMPOTENCY_KEY_REUSED"]).toContain(response.body.code as string)
  }

  // Each key applied at most once: all its 201s name one transaction, and the ledger holds one.
  const appliedByKey = new Map<string, { request: Request; transactionId: string }>()
  responses.forEach((response, i) => {
    if (response.status !== 201) return
    const previous = appliedByKey.get(requests[i]!.key)
    if (previous !== undefined) expect(response.body.transactionId).toBe(previous.transactionId)
    else appliedByKey.set(requests[i]!.key, { request: requests[i]!, transactionId: response.body.transactionId as string })
  })
  const written = await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ key: string; transactionId: string }>`
        SELECT key, transaction_id FROM idempotency_records
         WHERE key LIKE ${run + "-%"} AND key NOT LIKE ${run + "-open-%"} AND transaction_id IS NOT NULL`)
  )
  expect(new Map(written.map((row) => [row.key, row.transactionId]))).toEqual(
    new Map([...appliedByKey].map(([key, applied]) => [key, applied.transactionId]))
  )

  // The sequential model: opening balances plus the applied requests, in any order.
  const expected = new Map(opening)
  for (const { request } of appliedByKey.values()) {
    const wallet = `${request.user}/${request.asset}`
    expected.set(wallet, expected.get(wallet)! + (request.kind === "spend" ? -request.amount : request.amount))
  }
  const actual = await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ userId: number; assetCode: string; balance: number }>`
        SELECT user_id, asset_code, balance FROM wallets WHERE user_id IN ${sql.in(userIds)}`)
  )
  expect(new Map(actual.map((row) => [`${row.userId}/${row.assetCode}`, row.balance]))).toEqual(expected)

  // A refused spend reported a balance the wallet really had at some point, and it was too low.
  for (const [i, response] of responses.entries()) {
    if (response.body.code !== "INSUFFICIENT_FUNDS") continue
    expect(response.body.balance as number).toBeLessThan(requests[i]!.amount)
  }

  expect(await service.run(ledgerViolations)).toEqual(noViolations)
}

for (const writeBatchMax of ["1", "500"]) {
  describe(`concurrent plans against the running service, WRITE_BATCH_MAX=${writeBatchMax}`, () => {
    let service: TestService
    beforeAll(async () => {
      service = await startService({ WRITE_BATCH_MAX: writeBatchMax })
    })
    afterAll(() => service.dispose())

    test("conservation, no negative balance, entries match balances, keys apply once, model agrees", async () => {
      await fc.assert(fc.asyncProperty(planArbitrary, (plan) => checkPlan(service, plan)), { numRuns: 40, endOnFailure: true })
    })
  })
}

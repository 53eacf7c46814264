import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Generated plans of topups, bonuses, spends, transfers, multi-leg transactions and repeated
 * keys over a few users and assets, fired at the running service all at once. Whatever order
 * the committer serialises them in, the ledger must balance, no player may go below the floor,
 * no key may apply twice, and every answer must be what a sequential model gives when it
 * applies the successful requests one by one in the order they were committed: each receipt's
 * balances, and the final balances. Run once with one request per transaction and once with
 * the group committer's batches, which must not change any of it.
 */

const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const
type Asset = (typeof assets)[number]
type WriteKind = "topup" | "bonus" | "spend"

/** An amount moved from one user to another; user 1 is the treasury. */
interface Leg {
  readonly from: number
  readonly to: number
  readonly asset: Asset
  readonly amount: number
}

type Request =
  | { readonly kind: WriteKind; readonly user: number; readonly asset: Asset; readonly amount: number; readonly key: string }
  | { readonly kind: "transfer"; readonly leg: Leg; readonly key: string }
  | { readonly kind: "multileg"; readonly legs: ReadonlyArray<Leg>; readonly key: string }

/**
 * A fresh request, the exact repeat of an earlier one (a retry), or an earlier key with another
 * body. Parties are indexes: 0..users-1 the plan's players, `users` the treasury (multi-leg only).
 */
type Step =
  | { readonly _tag: "Write"; readonly kind: WriteKind; readonly user: number; readonly asset: number; readonly amount: number }
  | { readonly _tag: "Transfer"; readonly from: number; readonly offset: number; readonly asset: number; readonly amount: number }
  | {
    readonly _tag: "MultiLeg"
    readonly legs: ReadonlyArray<{ readonly from: number; readonly offset: number; readonly asset: number; readonly amount: number }>
  }
  | { readonly _tag: "Retry"; readonly of: number }
  | { readonly _tag: "Reuse"; readonly of: number; readonly amount: number }

const amount = fc.integer({ min: 1, max: 400 })
const asset = fc.nat({ max: assets.length - 1 })

const stepArbitrary = (users: number): fc.Arbitrary<Step> =>
  fc.oneof(
    {
      weight: 4,
      arbitrary: fc.record({
        _tag: fc.constant("Write" as const),
        kind: fc.constantFrom<WriteKind>("topup", "bonus", "spend", "spend"),
        user: fc.nat({ max: users - 1 }),
        asset,
        amount
      })
    },
    {
      weight: 3,
      // An offset of 0 (or a single player) is a transfer to oneself: 422 SAME_WALLET.
      arbitrary: fc.record({
        _tag: fc.constant("Transfer" as const),
        from: fc.nat({ max: users - 1 }),
        offset: fc.nat({ max: users - 1 }),
        asset,
        amount
      })
    },
    {
      weight: 3,
      arbitrary: fc.record({
        _tag: fc.constant("MultiLeg" as const),
        legs: fc.array(
          // Parties include the treasury (index `users`); the offset never lands on the sender.
          fc.record({ from: fc.nat({ max: users }), offset: fc.integer({ min: 1, max: users }), asset, amount }),
          { minLength: 1, maxLength: 4 }
        )
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

const TreasuryId = 1

/** Turns steps into requests: retries and reuses point at an earlier fresh request. */
const materialise = (steps: ReadonlyArray<Step>, userIds: ReadonlyArray<number>, run: string): Array<Request> => {
  const party = (index: number) => (index === userIds.length ? TreasuryId : userIds[index]!)
  const requests: Array<Request> = []
  steps.forEach((step, index) => {
    const key = `${run}-${index}`
    switch (step._tag) {
      case "Write":
        requests.push({ kind: step.kind, user: userIds[step.user]!, asset: assets[step.asset]!, amount: step.amount, key })
        break
      case "Transfer":
        requests.push({
          kind: "transfer",
          leg: { from: userIds[step.from]!, to: userIds[(step.from + step.offset) % userIds.length]!, asset: assets[step.asset]!, amount: step.amount },
          key
        })
        break
      case "MultiLeg":
        requests.push({
          kind: "multileg",
          legs: step.legs.map((leg) => ({
            from: party(leg.from),
            to: party((leg.from + leg.offset) % (userIds.length + 1)),
            asset: assets[leg.asset]!,
            amount: leg.amount
          })),
          key
        })
        break
      default: {
        if (requests.length === 0) break
        const earlier = requests[step.of % requests.length]!
        if (step._tag === "Retry") requests.push(earlier)
        else if (earlier.kind === "transfer") requests.push({ ...earlier, leg: { ...earlier.leg, amount: step.amount } })
        else if (earlier.kind === "multileg") {
          requests.push({ ...earlier, legs: [{ ...earlier.legs[0]!, amount: step.amount }, ...earlier.legs.slice(1)] })
        } else requests.push({ ...earlier, amount: step.amount })
      }
    }
  })
  return requests
}

const send = (service: TestService, request: Request) => {
  switch (request.kind) {
    case "transfer": {
      const { amount, asset, from, to } = request.leg
      return postJson(service, "/api/wallets/transfer", { fromUserId: from, toUserId: to, assetCode: asset, amount, idempotencyKey: request.key })
    }
    case "multileg":
      return postJson(service, "/api/transactions", {
        legs: request.legs.map((leg) => ({ fromUserId: leg.from, toUserId: leg.to, assetCode: leg.asset, amount: leg.amount })),
        idempotencyKey: request.key
      })
    default:
      return postJson(service, `/api/wallets/${request.kind}`, {
        userId: request.user,
        assetCode: request.asset,
        amount: request.amount,
        idempotencyKey: request.key
      })
  }
}

/** A request as legs: a topup or bonus comes from the treasury, a spend goes to it. */
const legsOf = (request: Request): ReadonlyArray<Leg> => {
  switch (request.kind) {
    case "transfer":
      return [request.leg]
    case "multileg":
      return request.legs
    case "spend":
      return [{ from: request.user, to: TreasuryId, asset: request.asset, amount: request.amount }]
    default:
      return [{ from: TreasuryId, to: request.user, asset: request.asset, amount: request.amount }]
  }
}

/** The balances a receipt reports after each leg, [from, to], as the receipt's shape has them. */
const reportedBalances = (request: Request, body: Record<string, unknown>): ReadonlyArray<readonly [number | null, number | null]> => {
  switch (request.kind) {
    case "transfer":
      return [[body.fromBalance as number, body.toBalance as number]]
    case "multileg":
      return (body.legs as Array<{ fromBalance: number; toBalance: number }>).map((leg) => [leg.fromBalance, leg.toBalance])
    case "spend":
      return [[body.balance as number, null]]
    default:
      return [[null, body.balance as number]]
  }
}

let runNumber = 0

/** What the plans reached, so that a generator that stopped producing a case is noticed. */
const reached = { transfer: 0, multileg: 0, multilegTouchingTreasury: 0, replayed: 0, sameWallet: 0 }

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
  const responses = await Promise.all(requests.map((request) => send(service, request)))

  // Every answer is one the contract allows, and every error is JSON with a code.
  for (const [i, response] of responses.entries()) {
    expect([201, 409, 422]).toContain(response.status)
    if (response.status === 201) continue
    expect(["INSUFFICIENT_FUNDS", "IDEMPOTENCY_KEY_REUSED", "SAME_WALLET"]).toContain(response.body.code as string)
    if (response.body.code === "SAME_WALLET") expect(legsOf(requests[i]!).some((leg) => leg.from === leg.to)).toBe(true)
  }

  for (const [i, response] of responses.entries()) {
    const request = requests[i]!
    if (response.status === 201 && response.headers.get("idempotent-replayed") === null) {
      if (request.kind === "transfer") reached.transfer++
      if (request.kind === "multileg") reached.multileg++
      if (request.kind === "multileg" && request.legs.some((leg) => leg.from === TreasuryId || leg.to === TreasuryId)) {
        reached.multilegTouchingTreasury++
      }
    }
    if (response.headers.get("idempotent-replayed") === "true") reached.replayed++
    if (response.body.code === "SAME_WALLET") reached.sameWallet++
  }

  // Each key applied at most once: all its 201s name one transaction, and the ledger holds one.
  const appliedByKey = new Map<string, { request: Request; transactionId: string; body: Record<string, unknown>; text: string }>()
  responses.forEach((response, i) => {
    if (response.status !== 201) return
    const previous = appliedByKey.get(requests[i]!.key)
    if (previous !== undefined) {
      expect(response.body.transactionId).toBe(previous.transactionId)
      expect(response.text).toBe(previous.text)
    } else {
      appliedByKey.set(requests[i]!.key, {
        request: requests[i]!,
        transactionId: response.body.transactionId as string,
        body: response.body,
        text: response.text
      })
    }
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

  // The sequential model: the opening balances, then the applied requests one by one in the
  // order the committer wrote them (their entries' ids). Every receipt must report the model's
  // balances at its turn, no player may go below zero at any turn, and the final balances must
  // be the model's. The treasury is shared with other plans, so only the players are modelled.
  const order = appliedByKey.size === 0 ? [] : await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ transactionId: string; first: number }>`
        SELECT transaction_id, min(id) AS first FROM ledger_entries
         WHERE transaction_id IN ${sql.in([...appliedByKey.values()].map((a) => a.transactionId))}
         GROUP BY transaction_id`)
  )
  const position = new Map(order.map((row) => [row.transactionId, Number(row.first)]))
  const model = new Map(opening)
  const sequence = [...appliedByKey.values()].sort((a, b) => position.get(a.transactionId)! - position.get(b.transactionId)!)
  for (const { body, request } of sequence) {
    const reported = reportedBalances(request, body)
    legsOf(request).forEach((leg, i) => {
      const from = `${leg.from}/${leg.asset}`, to = `${leg.to}/${leg.asset}`
      if (model.has(from)) model.set(from, model.get(from)! - leg.amount)
      if (model.has(to)) model.set(to, model.get(to)! + leg.amount)
      if (model.has(from)) expect(model.get(from)!).toBeGreaterThanOrEqual(0)
      const [fromBalance, toBalance] = reported[i]!
      if (fromBalance !== null && model.has(from)) expect(fromBalance).toBe(model.get(from)!)
      if (toBalance !== null && model.has(to)) expect(toBalance).toBe(model.get(to)!)
    })
  }
  const actual = await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ userId: number; assetCode: string; balance: number }>`
        SELECT user_id, asset_code, balance FROM wallets WHERE user_id IN ${sql.in(userIds)}`)
  )
  expect(new Map(actual.map((row) => [`${row.userId}/${row.assetCode}`, row.balance]))).toEqual(model)

  // A refusal reported a balance the wallet really had at some point, and it was too low for
  // the leg it names.
  for (const [i, response] of responses.entries()) {
    if (response.body.code !== "INSUFFICIENT_FUNDS") continue
    const leg = legsOf(requests[i]!)[(response.body.legIndex as number | undefined) ?? 0]!
    expect(response.body.userId).toBe(leg.from)
    expect(response.body.balance as number).toBeLessThan(leg.amount)
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

    test("conservation, floors, entries match balances, keys apply once, the sequential model agrees", async () => {
      await fc.assert(fc.asyncProperty(planArbitrary, (plan) => checkPlan(service, plan)), { numRuns: 40, endOnFailure: true })
      for (const count of Object.values(reached)) expect(count).toBeGreaterThan(0)
    })
  })
}

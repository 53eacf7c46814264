import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import fc from "fast-check"
import { ledgerViolations, noViolations } from "../support/Invariants.ts"
import { getJson, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"

/**
 * Generated plans of topups, bonuses, spends, transfers, multi-leg transactions, holds and
 * repeated keys over a few users and assets, fired at the running service all at once; then a
 * second storm of captures, voids and reversals (with and without debt) of what the first one
 * applied, with more writes, racing each other and the expiry of short holds. Whatever order
 * the committer serialises them in, the ledger must balance, no player may go below its floor
 * (zero, or minus the asset's maxDebt through a reversal that allows debt), what is held must
 * match the holds, no key may apply twice, no hold may settle twice, no transaction may be
 * reversed past its amount, and every answer must be what a sequential model gives when it
 * applies the successful requests (and the service's own expiries) one by one in the order
 * they were committed: each receipt's balances, and the final balances and holds. Both storms
 * also try system accounts where their rules do not let them be (the escrow or a system account
 * without rules in a transfer, a multi-leg leg, a write, a hold or as a capture's payee; the
 * treasury as a player): each is refused, writes nothing, and after each storm the escrow holds
 * exactly what the holds in force keep and the reconciliation is ok. Run once with
 * one request per transaction and once with the group committer's batches, which must not
 * change any of it.
 */

/** CREDIT_COINS allows debt (created with maxDebt below), the seeded three do not. */
const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS", "CREDIT_COINS"] as const
const maxDebt: Record<string, number> = { GOLD_COINS: 0, DIAMONDS: 0, LOYALTY_POINTS: 0, CREDIT_COINS: 300 }
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
  | {
    readonly kind: "hold"
    readonly user: number
    readonly asset: Asset
    readonly amount: number
    readonly expiresInSeconds: number
    readonly key: string
  }
  | { readonly kind: "capture"; readonly holdId: string; readonly amount: number | null; readonly to: number | null; readonly key: string }
  | { readonly kind: "void"; readonly holdId: string; readonly key: string }
  | {
    readonly kind: "reverse"
    readonly transactionId: string
    readonly amount: number | null
    readonly allowDebt: boolean
    readonly key: string
  }

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
  | { readonly _tag: "Hold"; readonly user: number; readonly asset: number; readonly amount: number; readonly short: boolean }
  | { readonly _tag: "Retry"; readonly of: number }
  | { readonly _tag: "Reuse"; readonly of: number; readonly amount: number }
  | {
    readonly _tag: "System"
    readonly shape: "transfer-from" | "transfer-to" | "multileg" | "write" | "hold"
    /** 0 the treasury, 1 the escrow, 2 a system account without rules. */
    readonly account: 0 | 1 | 2
    readonly user: number
    readonly legAt: number
    readonly asset: number
    readonly amount: number
  }

/** A step of the second storm: it names what the first one applied by index. */
type SettleStep =
  | { readonly _tag: "Capture"; readonly of: number; readonly amount: number | null; readonly toPlayer: number | null }
  | { readonly _tag: "Void"; readonly of: number }
  | { readonly _tag: "CaptureToSystem"; readonly of: number; readonly account: 1 | 2 }
  | { readonly _tag: "Reverse"; readonly of: number; readonly amount: number | null; readonly allowDebt: boolean }
  | { readonly _tag: "ReverseOpening"; readonly of: number; readonly allowDebt: boolean }
  | { readonly _tag: "Write"; readonly kind: WriteKind; readonly user: number; readonly asset: number; readonly amount: number }
  | { readonly _tag: "Retry"; readonly of: number }

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
    {
      weight: 3,
      arbitrary: fc.record({
        _tag: fc.constant("Hold" as const),
        user: fc.nat({ max: users - 1 }),
        asset,
        amount,
        short: fc.boolean()
      })
    },
    { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Retry" as const), of: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ _tag: fc.constant("Reuse" as const), of: fc.nat(), amount: fc.integer({ min: 401, max: 500 }) }) },
    {
      weight: 1,
      arbitrary: fc.record({
        _tag: fc.constant("System" as const),
        shape: fc.constantFrom("transfer-from" as const, "transfer-to" as const, "multileg" as const, "write" as const, "hold" as const),
        account: fc.constantFrom(0 as const, 1 as const, 2 as const),
        user: fc.nat({ max: users - 1 }),
        legAt: fc.nat({ max: 2 }),
        asset,
        amount
      })
    }
  )

const settleStepArbitrary = (users: number): fc.Arbitrary<SettleStep> =>
  fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        _tag: fc.constant("Capture" as const),
        of: fc.nat(),
        // Now and then more than the hold holds: 422 CAPTURE_EXCEEDS_HOLD.
        amount: fc.option(fc.integer({ min: 1, max: 250 }), { freq: 2 }),
        toPlayer: fc.option(fc.nat({ max: users - 1 }))
      })
    },
    { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Void" as const), of: fc.nat() }) },
    {
      weight: 1,
      arbitrary: fc.record({ _tag: fc.constant("CaptureToSystem" as const), of: fc.nat(), account: fc.constantFrom(1 as const, 2 as const) })
    },
    {
      weight: 6,
      arbitrary: fc.record({
        _tag: fc.constant("Reverse" as const),
        of: fc.nat(),
        amount: fc.option(fc.integer({ min: 1, max: 150 }), { freq: 2 }),
        allowDebt: fc.boolean()
      })
    },
    {
      // An opening balance reversed whole after the first storm spent some of it: into debt (or
      // past the debt limit) with allowDebt, INSUFFICIENT_FUNDS without.
      weight: 3,
      arbitrary: fc.record({ _tag: fc.constant("ReverseOpening" as const), of: fc.nat(), allowDebt: fc.boolean() })
    },
    {
      weight: 2,
      arbitrary: fc.record({
        _tag: fc.constant("Write" as const),
        kind: fc.constantFrom<WriteKind>("topup", "spend"),
        user: fc.nat({ max: users - 1 }),
        asset,
        amount
      })
    },
    { weight: 2, arbitrary: fc.record({ _tag: fc.constant("Retry" as const), of: fc.nat() }) }
  )

const planArbitrary = fc.record({
  users: fc.integer({ min: 1, max: 3 }),
  opening: fc.array(fc.integer({ min: 0, max: 600 }), { minLength: 3 * assets.length, maxLength: 3 * assets.length })
}).chain(({ opening, users }) =>
  fc.record({
    users: fc.constant(users),
    opening: fc.constant(opening),
    steps: fc.array(stepArbitrary(users), { minLength: 5, maxLength: 40 }),
    settle: fc.array(settleStepArbitrary(users), { minLength: 5, maxLength: 30 }),
    // 0: the second storm right away; else about when short holds expire, to race the worker.
    pauseMs: fc.constantFrom(0, 0, 900, 1100)
  })
)

const TreasuryId = 1

/** The escrow's user id and a system account's without rules, made by each suite's set-up. */
const systemIds = { escrow: 0, unruled: 0 }
const systemAccount = (account: 0 | 1 | 2) => [TreasuryId, systemIds.escrow, systemIds.unruled][account]!

/**
 * Whether a request names a system account where its rules do not let it be: the treasury as
 * a player, or the escrow or a system account without rules anywhere a client can name one.
 */
const namesSystemAccount = (request: Request): boolean => {
  const forbidden = (userId: number) => userId === systemIds.escrow || userId === systemIds.unruled
  switch (request.kind) {
    case "topup":
    case "bonus":
    case "spend":
    case "hold":
      return request.user === TreasuryId || forbidden(request.user)
    case "transfer":
      return [request.leg.from, request.leg.to].some((userId) => userId === TreasuryId || forbidden(userId))
    case "multileg":
      return request.legs.some((leg) => forbidden(leg.from) || forbidden(leg.to))
    case "capture":
      return request.to !== null && forbidden(request.to)
    default:
      return false
  }
}

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
      case "Hold":
        requests.push({
          kind: "hold",
          user: userIds[step.user]!,
          asset: assets[step.asset]!,
          amount: step.amount,
          expiresInSeconds: step.short ? 1 : 900,
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
      case "System": {
        // A multi-leg leg may name the treasury: there the escrow stands in for it.
        const account = systemAccount(step.shape === "multileg" && step.account === 0 ? 1 : step.account)
        const player = userIds[step.user]!, asset = assets[step.asset]!
        const fair = { from: player, to: party((step.user + 1) % (userIds.length + 1)), asset, amount: step.amount }
        if (step.shape === "write") requests.push({ kind: "bonus", user: account, asset, amount: step.amount, key })
        if (step.shape === "hold") requests.push({ kind: "hold", user: account, asset, amount: step.amount, expiresInSeconds: 900, key })
        if (step.shape === "transfer-from") requests.push({ kind: "transfer", leg: { from: account, to: player, asset, amount: step.amount }, key })
        if (step.shape === "transfer-to") requests.push({ kind: "transfer", leg: { from: player, to: account, asset, amount: step.amount }, key })
        if (step.shape === "multileg") {
          const legs: Array<Leg> = Array.from({ length: step.legAt }, () => fair)
          legs.push(step.account === 2 ? { from: player, to: account, asset, amount: step.amount } : { from: account, to: player, asset, amount: step.amount })
          requests.push({ kind: "multileg", legs, key })
        }
        break
      }
      default: {
        if (requests.length === 0) break
        const earlier = requests[step.of % requests.length]!
        if (step._tag === "Retry") requests.push(earlier)
        else if (earlier.kind === "transfer") requests.push({ ...earlier, leg: { ...earlier.leg, amount: step.amount } })
        else if (earlier.kind === "multileg") {
          requests.push({ ...earlier, legs: [{ ...earlier.legs[0]!, amount: step.amount }, ...earlier.legs.slice(1)] })
        } else if (earlier.kind === "hold") requests.push({ ...earlier, amount: step.amount })
        else if (earlier.kind === "topup" || earlier.kind === "bonus" || earlier.kind === "spend") {
          requests.push({ ...earlier, amount: step.amount })
        }
      }
    }
  })
  return requests
}

/**
 * The second storm's requests, against what the first one applied: its holds (captured, voided)
 * and its transactions (reversed, holds included, which are not reversible).
 */
const materialiseSettle = (
  steps: ReadonlyArray<SettleStep>,
  userIds: ReadonlyArray<number>,
  holdIds: ReadonlyArray<string>,
  transactionIds: ReadonlyArray<string>,
  openingIds: ReadonlyArray<string>,
  run: string
): Array<Request> => {
  const requests: Array<Request> = []
  steps.forEach((step, index) => {
    const key = `${run}-s${index}`
    switch (step._tag) {
      case "Capture":
        if (holdIds.length === 0) break
        requests.push({
          kind: "capture",
          holdId: holdIds[step.of % holdIds.length]!,
          amount: step.amount,
          to: step.toPlayer === null ? null : userIds[step.toPlayer]!,
          key
        })
        break
      case "Void":
        if (holdIds.length > 0) requests.push({ kind: "void", holdId: holdIds[step.of % holdIds.length]!, key })
        break
      case "CaptureToSystem":
        if (holdIds.length === 0) break
        requests.push({ kind: "capture", holdId: holdIds[step.of % holdIds.length]!, amount: null, to: systemAccount(step.account), key })
        break
      case "Reverse":
        if (transactionIds.length === 0) break
        requests.push({
          kind: "reverse",
          transactionId: transactionIds[step.of % transactionIds.length]!,
          amount: step.amount,
          allowDebt: step.allowDebt,
          key
        })
        break
      case "ReverseOpening":
        if (openingIds.length === 0) break
        requests.push({
          kind: "reverse",
          transactionId: openingIds[step.of % openingIds.length]!,
          amount: null,
          allowDebt: step.allowDebt,
          key
        })
        break
      case "Write":
        requests.push({ kind: step.kind, user: userIds[step.user]!, asset: assets[step.asset]!, amount: step.amount, key })
        break
      case "Retry":
        if (requests.length > 0) requests.push(requests[step.of % requests.length]!)
    }
  })
  return requests
}

const send = (service: TestService, request: Request) => {
  switch (request.kind) {
    case "hold":
      return postJson(service, "/api/holds", {
        userId: request.user,
        assetCode: request.asset,
        amount: request.amount,
        expiresInSeconds: request.expiresInSeconds,
        idempotencyKey: request.key
      })
    case "capture":
      return postJson(service, `/api/holds/${request.holdId}/capture`, {
        ...(request.amount === null ? {} : { amount: request.amount }),
        ...(request.to === null ? {} : { toUserId: request.to }),
        idempotencyKey: request.key
      })
    case "void":
      return postJson(service, `/api/holds/${request.holdId}/void`, { idempotencyKey: request.key })
    case "reverse":
      return postJson(service, `/api/transactions/${request.transactionId}/reversal`, {
        ...(request.amount === null ? {} : { amount: request.amount }),
        allowDebt: request.allowDebt,
        idempotencyKey: request.key
      })
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

/** The escrow, in legs from a hold: not a player, so not in the model, as the treasury. */
const EscrowParty = -1

/** A leg as applied, with the balances its receipt reported after it (null: not reported). */
interface AppliedLeg extends Leg {
  readonly fromBalance: number | null
  readonly toBalance: number | null
}

interface ReceiptLeg {
  readonly fromUserId: number
  readonly toUserId: number
  readonly assetCode: Asset
  readonly amount: number
  readonly fromBalance: number
  readonly toBalance: number
}

/**
 * An applied request as legs, with the balances its receipt reports: a topup or bonus comes
 * from the treasury, a spend goes to it, a hold goes to the escrow; captures, voids and
 * reversals report their legs themselves.
 */
const appliedLegs = (request: Request, body: Record<string, unknown>): ReadonlyArray<AppliedLeg> => {
  switch (request.kind) {
    case "transfer":
      return [{ ...request.leg, fromBalance: body.fromBalance as number, toBalance: body.toBalance as number }]
    case "multileg":
      return request.legs.map((leg, i) => {
        const reported = (body.legs as Array<ReceiptLeg>)[i]!
        return { ...leg, fromBalance: reported.fromBalance, toBalance: reported.toBalance }
      })
    case "spend":
      return [{ from: request.user, to: TreasuryId, asset: request.asset, amount: request.amount, fromBalance: body.balance as number, toBalance: null }]
    case "hold":
      return [{ from: request.user, to: EscrowParty, asset: request.asset, amount: request.amount, fromBalance: body.balance as number, toBalance: null }]
    case "capture":
    case "void":
    case "reverse":
      return (body.legs as Array<ReceiptLeg>).map((leg) => ({
        from: leg.fromUserId,
        to: leg.toUserId,
        asset: leg.assetCode,
        amount: leg.amount,
        fromBalance: leg.fromBalance,
        toBalance: leg.toBalance
      }))
    default:
      return [{ from: TreasuryId, to: request.user, asset: request.asset, amount: request.amount, fromBalance: null, toBalance: body.balance as number }]
  }
}

/** The legs of a refused request that an INSUFFICIENT_FUNDS names, for the plain writes. */
const requestedLegs = (request: Request): ReadonlyArray<Leg> => {
  switch (request.kind) {
    case "transfer":
      return [request.leg]
    case "multileg":
      return request.legs
    case "spend":
    case "hold":
      return [{ from: request.user, to: TreasuryId, asset: request.asset, amount: request.amount }]
    default:
      return []
  }
}

let runNumber = 0

/** What the plans reached, so that a generator that stopped producing a case is noticed. */
const reached = {
  transfer: 0,
  multileg: 0,
  multilegTouchingTreasury: 0,
  replayed: 0,
  sameWallet: 0,
  hold: 0,
  capture: 0,
  void: 0,
  expired: 0,
  reversal: 0,
  reversalIntoDebt: 0,
  holdNotActive: 0,
  alreadyReversed: 0,
  debtLimit: 0,
  systemAccount: 0
}

const checkPlan = async (
  service: TestService,
  plan: {
    users: number
    opening: ReadonlyArray<number>
    steps: ReadonlyArray<Step>
    settle: ReadonlyArray<SettleStep>
    pauseMs: number
  }
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
  /** The opening topups, which the second storm reverses too: by then the players spent some of them. */
  const openingTransactions: Array<{ readonly transactionId: string; readonly amount: number }> = []
  for (const [u, userId] of userIds.entries()) {
    for (const [a, asset] of assets.entries()) {
      const amount = plan.opening[u * assets.length + a]!
      opening.set(`${userId}/${asset}`, amount)
      if (amount > 0) {
        const funded = await postJson(service, "/api/wallets/topup", { userId, assetCode: asset, amount, idempotencyKey: `${run}-open-${u}-${a}` })
        expect(funded.status).toBe(201)
        openingTransactions.push({ transactionId: funded.body.transactionId as string, amount })
        if (maxDebt[asset]! > 0) {
          // Some of an opening balance that may go into debt is spent at once, so that reversing
          // its topup with allowDebt goes below zero unless the storm credited the player since.
          const spent = Math.min(amount, 50)
          const spend = await postJson(service, "/api/wallets/spend", { userId, assetCode: asset, amount: spent, idempotencyKey: `${run}-open-spend-${u}-${a}` })
          expect(spend.status).toBe(201)
          opening.set(`${userId}/${asset}`, amount - spent)
        }
      }
    }
  }

  const first = materialise(plan.steps, userIds, run)
  const firstResponses = await Promise.all(first.map((request) => send(service, request)))
  const appliedFirst = first.flatMap((request, i) => {
    const response = firstResponses[i]!
    return response.status === 201 ? [{ request, body: response.body }] : []
  })
  const holdIds = Array.from(new Set(appliedFirst.flatMap(({ body, request }) => request.kind === "hold" ? [body.holdId as string] : [])))
  const transactionIds = Array.from(new Set(appliedFirst.map(({ body }) => body.transactionId as string)))
  await expectEscrowReconciled(service)
  if (plan.pauseMs > 0) await Bun.sleep(plan.pauseMs)
  const second = materialiseSettle(
    plan.settle,
    userIds,
    holdIds,
    transactionIds,
    openingTransactions.map((opened) => opened.transactionId),
    run
  )
  const secondResponses = await Promise.all(second.map((request) => send(service, request)))
  const requests = [...first, ...second]
  const responses = [...firstResponses, ...secondResponses]

  // Short holds left held are released by the service within 5 s of their expiry: wait for it.
  const shortHolds = appliedFirst.filter(({ request }) => request.kind === "hold" && request.expiresInSeconds === 1)
  const deadline = Date.now() + 6_000
  while (shortHolds.length > 0 && Date.now() < deadline) {
    const rows = await service.run(
      Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ held: number }>`
          SELECT count(*)::int AS held FROM holds
           WHERE id IN ${sql.in(shortHolds.map(({ body }) => body.holdId as string))} AND status = 'HELD'`)
    )
    if (rows[0]?.held === 0) break
    await Bun.sleep(100)
  }

  // Every answer is one the contract allows, and every error is JSON with a code.
  for (const [i, response] of responses.entries()) {
    expect([200, 201, 409, 422]).toContain(response.status)
    if (response.status === 201 || response.status === 200) {
      expect(response.status).toBe(requests[i]!.kind === "void" ? 200 : 201)
      continue
    }
    expect([
      "SYSTEM_ACCOUNT",
      "INSUFFICIENT_FUNDS",
      "IDEMPOTENCY_KEY_REUSED",
      "SAME_WALLET",
      "HOLD_NOT_ACTIVE",
      "CAPTURE_EXCEEDS_HOLD",
      "ALREADY_REVERSED",
      "NOT_REVERSIBLE",
      "DEBT_LIMIT"
    ]).toContain(response.body.code as string)
    if (response.body.code === "SAME_WALLET") expect(requestedLegs(requests[i]!).some((leg) => leg.from === leg.to)).toBe(true)
    if (response.body.code === "SYSTEM_ACCOUNT") expect(namesSystemAccount(requests[i]!)).toBe(true)
    if (response.body.code === "DEBT_LIMIT") {
      const request = requests[i]!
      expect(request.kind === "reverse" && request.allowDebt).toBe(true)
    }
  }

  const succeeded = (status: number) => status === 201 || status === 200
  for (const [i, response] of responses.entries()) {
    const request = requests[i]!
    // A system account where its rules do not let it be is refused, whatever else the request is:
    // a multi-leg transaction may meet a refused leg before it, a capture a settled hold first.
    if (namesSystemAccount(request)) {
      expect(succeeded(response.status)).toBe(false)
      if (response.body.code === "SYSTEM_ACCOUNT") reached.systemAccount++
    }
    if (succeeded(response.status) && response.headers.get("idempotent-replayed") === null) {
      if (request.kind === "transfer") reached.transfer++
      if (request.kind === "multileg") reached.multileg++
      if (request.kind === "multileg" && request.legs.some((leg) => leg.from === TreasuryId || leg.to === TreasuryId)) {
        reached.multilegTouchingTreasury++
      }
      if (request.kind === "hold") reached.hold++
      if (request.kind === "capture") reached.capture++
      if (request.kind === "void") reached.void++
      if (request.kind === "reverse") reached.reversal++
      const players = new Set(userIds)
      if (request.kind === "reverse" && (response.body.legs as Array<ReceiptLeg>).some((leg) => players.has(leg.fromUserId) && leg.fromBalance < 0)) {
        reached.reversalIntoDebt++
      }
    }
    if (response.headers.get("idempotent-replayed") === "true") reached.replayed++
    if (response.body.code === "SAME_WALLET") reached.sameWallet++
    if (response.body.code === "HOLD_NOT_ACTIVE") reached.holdNotActive++
    if (response.body.code === "ALREADY_REVERSED") reached.alreadyReversed++
    if (response.body.code === "DEBT_LIMIT") reached.debtLimit++
  }

  // Each key applied at most once: all its successes name one transaction, and the ledger holds one.
  const appliedByKey = new Map<string, { request: Request; transactionId: string; body: Record<string, unknown>; text: string }>()
  responses.forEach((response, i) => {
    if (!succeeded(response.status)) return
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

  // The holds as the database has them: each settled at most once, by the transaction its
  // capture, void or the service's expiry wrote.
  const planHolds = holdIds.length === 0 ? [] : await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ id: string; status: string; settlementTransactionId: string | null; userId: number; assetCode: string; amount: number }>`
        SELECT id, status, settlement_transaction_id, user_id, asset_code, amount FROM holds WHERE id IN ${sql.in(holdIds)}`)
  )
  const expiries = planHolds.filter((hold) => hold.status === "EXPIRED")
  reached.expired += expiries.length
  const expiryLegs = new Map<string, ReadonlyArray<AppliedLeg>>()
  for (const hold of expiries) {
    expiryLegs.set(hold.settlementTransactionId!, [
      { from: EscrowParty, to: hold.userId, asset: hold.assetCode as Asset, amount: hold.amount, fromBalance: null, toBalance: null }
    ])
  }

  // The sequential model: the opening balances, then the applied requests and the expiries one
  // by one in the order the committer wrote them (their entries' ids). Every receipt must report
  // the model's balances at its turn, no player may go below its floor at any turn, and the
  // final balances, holds and reversed amounts must be the model's. The treasury and the escrow
  // are shared with other plans, so only the players are modelled.
  const sequence = [
    ...[...appliedByKey.values()].map(({ body, request, transactionId }) => ({ transactionId, request, legs: appliedLegs(request, body) })),
    ...[...expiryLegs].map(([transactionId, legs]) => ({ transactionId, request: null, legs }))
  ]
  const order = sequence.length === 0 ? [] : await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ transactionId: string; first: number }>`
        SELECT transaction_id, min(id) AS first FROM ledger_entries
         WHERE transaction_id IN ${sql.in(sequence.map((s) => s.transactionId))}
         GROUP BY transaction_id`)
  )
  const position = new Map(order.map((row) => [row.transactionId, Number(row.first)]))
  sequence.sort((a, b) => position.get(a.transactionId)! - position.get(b.transactionId)!)
  const model = new Map(opening)
  const heldModel = new Map<string, { key: string; amount: number; status: string }>()
  const reversedModel = new Map<string, number>()
  /** What each first-storm transaction may be reversed by: its amount, or 1 (whole) for a multi-leg one. */
  const reversible = new Map([
    ...appliedFirst.map(({ body, request }) => [
      body.transactionId as string,
      request.kind === "multileg"
        ? { multiLeg: true, amount: 1 }
        : { multiLeg: false, amount: request.kind === "transfer" ? request.leg.amount : "amount" in request ? request.amount ?? 0 : 0 }
    ] as const),
    ...openingTransactions.map(({ amount, transactionId }) => [transactionId, { multiLeg: false, amount }] as const)
  ])
  for (const { legs, request, transactionId } of sequence) {
    const debtAllowed = request?.kind === "reverse" && request.allowDebt
    for (const leg of legs) {
      const from = `${leg.from}/${leg.asset}`, to = `${leg.to}/${leg.asset}`
      if (model.has(from)) model.set(from, model.get(from)! - leg.amount)
      if (model.has(to)) model.set(to, model.get(to)! + leg.amount)
      if (model.has(from)) expect(model.get(from)!).toBeGreaterThanOrEqual(debtAllowed ? -maxDebt[leg.asset]! : 0)
      if (leg.fromBalance !== null && model.has(from)) expect(leg.fromBalance).toBe(model.get(from)!)
      if (leg.toBalance !== null && model.has(to)) expect(leg.toBalance).toBe(model.get(to)!)
    }
    if (request?.kind === "hold") {
      heldModel.set(appliedByKey.get(request.key)!.body.holdId as string, { key: `${request.user}/${request.asset}`, amount: request.amount, status: "HELD" })
    }
    const settledId = request === null
      ? expiries.find((hold) => hold.settlementTransactionId === transactionId)!.id
      : request.kind === "capture" || request.kind === "void"
      ? request.holdId
      : null
    if (settledId !== null) {
      // Only a hold the model still holds can be settled, once.
      const hold = heldModel.get(settledId)!
      expect(hold.status).toBe("HELD")
      heldModel.set(settledId, { ...hold, status: request === null ? "EXPIRED" : request.kind === "capture" ? "CAPTURED" : "VOIDED" })
    }
    if (request?.kind === "reverse") {
      const original = reversible.get(request.transactionId)!
      const total = (reversedModel.get(request.transactionId) ?? 0) + (original.multiLeg ? 1 : legs[0]!.amount)
      reversedModel.set(request.transactionId, total)
      expect(total).toBeLessThanOrEqual(original.amount)
    }
  }
  const actual = await service.run(
    Effect.flatMap(SqlClient.SqlClient, (sql) =>
      sql<{ userId: number; assetCode: string; balance: number }>`
        SELECT user_id, asset_code, balance FROM wallets WHERE user_id IN ${sql.in(userIds)}`)
  )
  expect(new Map(actual.map((row) => [`${row.userId}/${row.assetCode}`, row.balance]))).toEqual(model)
  expect(new Map(planHolds.map((hold) => [hold.id, hold.status]))).toEqual(
    new Map([...heldModel].map(([id, hold]) => [id, hold.status]))
  )
  // What each player has held, as the balance endpoint reports it, is the model's held holds.
  for (const userId of userIds) {
    const reported = await getJson(service, `/api/wallets/${userId}/balance`)
    for (const { assetCode, held } of reported.body.balances as Array<{ assetCode: string; held: number }>) {
      const expected = [...heldModel.values()]
        .filter((hold) => hold.status === "HELD" && hold.key === `${userId}/${assetCode}`)
        .reduce((sum, hold) => sum + hold.amount, 0)
      expect(held).toBe(expected)
    }
  }

  // A refusal reported a balance the wallet really had at some point, and it was too low for
  // the leg it names.
  for (const [i, response] of responses.entries()) {
    if (response.body.code !== "INSUFFICIENT_FUNDS") continue
    const legs = requestedLegs(requests[i]!)
    if (legs.length === 0) continue
    const leg = legs[(response.body.legIndex as number | undefined) ?? 0]!
    expect(response.body.userId).toBe(leg.from)
    expect(response.body.balance as number).toBeLessThan(leg.amount)
  }

  expect(await service.run(ledgerViolations)).toEqual(noViolations)
  await expectEscrowReconciled(service)
}

/** After a storm: the escrow holds exactly what the holds in force keep, and the reconciliation is ok. */
const expectEscrowReconciled = async (service: TestService) => {
  const violations = await service.run(ledgerViolations)
  expect({ heldOffEscrow: violations.heldOffEscrow, systemSidesBroken: violations.systemSidesBroken })
    .toEqual({ heldOffEscrow: [], systemSidesBroken: [] })
  const reconciliation = await getJson(service, "/api/reconciliation")
  expect(reconciliation.body.ok).toBe(true)
}

for (const writeBatchMax of ["1", "500"]) {
  describe(`concurrent plans against the running service, WRITE_BATCH_MAX=${writeBatchMax}`, () => {
    let service: TestService
    beforeAll(async () => {
      service = await startService({ WRITE_BATCH_MAX: writeBatchMax, HOLD_EXPIRY_INTERVAL: "200 millis" })
      const credit = await postJson(service, "/api/assets", { code: "CREDIT_COINS", name: "Credit Coins", maxDebt: maxDebt.CREDIT_COINS })
      expect(credit.status).toBe(201)
      const rows = await service.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
        sql<{ id: number; role: string }>`
          WITH added AS (INSERT INTO users (username, kind, role) VALUES ('$unruled', 'SYSTEM', 'SYSTEM') RETURNING id, role)
          SELECT id, role FROM added UNION ALL SELECT id, role FROM users WHERE role = 'ESCROW'`))
      systemIds.escrow = rows.find((row) => row.role === "ESCROW")!.id
      systemIds.unruled = rows.find((row) => row.role === "SYSTEM")!.id
    })
    afterAll(() => service.dispose())

    test("conservation, floors, entries match balances, keys apply once, the sequential model agrees", async () => {
      await fc.assert(fc.asyncProperty(planArbitrary, (plan) => checkPlan(service, plan)), { numRuns: 30, endOnFailure: true })
      // Counted over both runs (this one is the second): some cases, as a reversal refused at
      // the debt limit, come a few times in 30 plans, and none in one run should not fail it.
      if (writeBatchMax === "500") {
        for (const [name, count] of Object.entries(reached)) expect([name, count > 0]).toEqual([name, true])
      }
    })
  })
}

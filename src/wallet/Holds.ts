import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Clock from "effect/Clock"
import * as Config from "effect/Config"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import { randomUUID } from "node:crypto"
import type { ApiKeyId } from "../domain/ApiKey.ts"
import { ServiceUnavailable } from "../domain/Http.ts"
import {
  type CaptureRequest,
  Hold,
  HoldId,
  HoldList,
  HoldListLimitDefault,
  type HoldListQuery,
  HoldNotActive,
  HoldNotFound,
  HoldReceipt,
  type HoldRequest,
  SettlementReceipt,
  type VoidRequest
} from "../domain/Hold.ts"
import type { IdempotencyKey } from "../domain/Idempotency.ts"
import { Amount } from "../domain/Money.ts"
import { type AnyReceipt, captureCommand, expireCommand, holdCommand, voidCommand } from "../domain/Write.ts"
import { UserNotFound } from "../domain/User.ts"
import { HoldRepository, type StoredHold } from "../ledger/HoldRepository.ts"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { holdsExpired, holdsExpiryFailures } from "../observability/Metrics.ts"
import { isUnavailable } from "../SqlFailure.ts"
import { Committer } from "./Committer.ts"
import { counted, expecting, foreignRefusalsDie, resolveKey } from "./WriteOutcome.ts"

export const HoldsConfig = Config.all({
  // Holds are released within this (plus one batch) of their expiry; 5 s is the promise.
  expiryInterval: Config.duration("HOLD_EXPIRY_INTERVAL").pipe(
    Config.validate({
      message: "Expected a duration from 100 millis to 4 seconds",
      validation: (d) => Duration.between(d, { minimum: Duration.millis(100), maximum: Duration.seconds(4) })
    }),
    Config.withDefault(Duration.seconds(1))
  )
})

/** Holds released per round: each is one command of a batch, so a round is a batch or a few. */
export const ExpiryBatchSize = 500

/**
 * How long a hold whose release failed for itself is left out of the expiry rounds: long enough
 * that a hold that can never be released costs little, short enough that one whose cause was
 * fixed (a trigger dropped, a bug deployed away) is released soon after.
 */
export const UnreleasableRetryAfter = Duration.minutes(1)

/** Most holds remembered as unreleasable; past it the oldest is forgotten (and tried again). */
const UnreleasableMax = 10_000

/** A hold as the API shows it. */
const holdOf = (hold: StoredHold) =>
  new Hold({
    holdId: hold.id,
    status: hold.status,
    userId: hold.userId,
    assetCode: hold.assetCode,
    amount: Amount.make(hold.amount),
    capturedAmount: hold.capturedAmount,
    expiresAt: hold.expiresAt,
    createdAt: hold.createdAt,
    transactionId: hold.holdTransactionId,
    settlementTransactionId: hold.settlementTransactionId,
    settledAt: hold.settledAt
  })

const isHoldReceipt = (receipt: AnyReceipt): receipt is HoldReceipt => receipt instanceof HoldReceipt
const isSettlementReceipt = (receipt: AnyReceipt): receipt is SettlementReceipt => receipt instanceof SettlementReceipt

/**
 * Holds: authorise now, settle later. Each use case goes through the committer like every write;
 * a scoped fiber releases the holds past their expiry, every HOLD_EXPIRY_INTERVAL, in every
 * process: the committer locks each hold's row, so a hold two processes release is released once.
 */
export class Holds extends Effect.Service<Holds>()("Holds", {
  scoped: Effect.gen(function*() {
    const config = yield* HoldsConfig
    const committer = yield* Committer
    const repository = yield* HoldRepository
    const ledger = yield* LedgerRepository

    const create = Effect.fn("Holds.create")(function*(
      request: HoldRequest,
      headerKey: IdempotencyKey | undefined,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const key = yield* resolveKey(request.idempotencyKey, headerKey)
      const holdId = HoldId.make(randomUUID(), true)
      return yield* committer.submit(holdCommand(holdId, request, key, requestId, createdBy)).pipe(
        Effect.flatMap(expecting(isHoldReceipt)),
        foreignRefusalsDie,
        // Both sides are the player and the escrow, never the same wallet.
        Effect.catchTag("SameWallet", Effect.die)
      )
    }, (create) => counted("HOLD")(create))

    const capture = Effect.fn("Holds.capture")(function*(
      holdId: HoldId,
      request: CaptureRequest,
      headerKey: IdempotencyKey | undefined,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const key = yield* resolveKey(request.idempotencyKey, headerKey)
      return yield* committer.submit(captureCommand(holdId, request, key, requestId, createdBy)).pipe(
        Effect.flatMap(expecting(isSettlementReceipt)),
        Effect.catchTags({
          AssetNotFound: Effect.die,
          SameWallet: Effect.die,
          InsufficientFunds: Effect.die,
          DebtLimit: Effect.die,
          TransactionNotFound: Effect.die,
          NotReversible: Effect.die,
          AlreadyReversed: Effect.die
        })
      )
    }, (capture) => counted("CAPTURE")(capture))

    const cancel = Effect.fn("Holds.void")(function*(
      holdId: HoldId,
      request: VoidRequest,
      headerKey: IdempotencyKey | undefined,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const key = yield* resolveKey(request.idempotencyKey, headerKey)
      return yield* committer.submit(voidCommand(holdId, request, key, requestId, createdBy)).pipe(
        Effect.flatMap(expecting(isSettlementReceipt)),
        Effect.catchTags({
          UserNotFound: Effect.die,
          AssetNotFound: Effect.die,
          SystemAccount: Effect.die,
          SameWallet: Effect.die,
          InsufficientFunds: Effect.die,
          DebtLimit: Effect.die,
          TransactionNotFound: Effect.die,
          NotReversible: Effect.die,
          AlreadyReversed: Effect.die,
          CaptureExceedsHold: Effect.die
        })
      )
    }, (cancel) => counted("VOID")(cancel))

    const get = Effect.fn("Holds.get")(function*(holdId: HoldId) {
      const row = yield* repository.byId(holdId)
      if (Option.isNone(row)) return yield* HoldNotFound.of(holdId)
      return holdOf(row.value)
    })

    /** A player's holds, newest first; 404 for a user who does not exist. */
    const list = Effect.fn("Holds.list")(function*(query: HoldListQuery) {
      const found = yield* ledger.findUserAndAsset(query.userId, undefined)
      if (!found.userExists) return yield* UserNotFound.of(query.userId)
      const rows = yield* repository.byUser(query.userId, query.status, query.limit ?? HoldListLimitDefault)
      return new HoldList({ items: rows.map(holdOf) })
    })

    /** Holds whose release failed for the hold itself, and when (ms since 1970) they may be tried again. */
    const unreleasable = new Map<HoldId, number>()

    /**
     * Sorts one expiry's failure: the hold was settled already (by a capture, a void, another
     * process) or the database cannot serve, the server is going away, or the batch was
     * interrupted — nothing to hold against the hold — or else its release itself fails (a
     * defect, a refusal, a constraint or trigger refusing its row): then it is left out of the
     * rounds for UnreleasableRetryAfter, logged and counted, so that it costs the committer one
     * failed batch per retry instead of one per round, and never keeps the holds after it waiting.
     */
    const noteFailure = (holdId: HoldId, cause: Cause.Cause<unknown>, nowMs: number) => {
      const failure = Cause.failureOption(cause)
      const notTheHolds = Option.isSome(failure)
        ? failure.value instanceof HoldNotActive || failure.value instanceof ServiceUnavailable
        : Cause.isInterruptedOnly(cause) || Chunk.some(Cause.defects(cause), isUnavailable)
      if (notTheHolds) return Effect.succeed(false)
      if (unreleasable.size >= UnreleasableMax) unreleasable.delete(unreleasable.keys().next().value!)
      unreleasable.set(holdId, nowMs + Duration.toMillis(UnreleasableRetryAfter))
      return Effect.logError("An expired hold cannot be released; skipping it and releasing the others", cause).pipe(
        Effect.annotateLogs({ holdId, retryAfter: Duration.format(UnreleasableRetryAfter) }),
        Effect.zipRight(Metric.increment(holdsExpiryFailures)),
        Effect.as(true)
      )
    }

    /** Releases every hold due now, a round at a time; returns how many it released. */
    const expireDue = Effect.gen(function*() {
      let released = 0
      while (true) {
        const nowMs = yield* Clock.currentTimeMillis
        for (const [holdId, retryAtMs] of unreleasable) if (retryAtMs <= nowMs) unreleasable.delete(holdId)
        const due = yield* repository.due(ExpiryBatchSize, Array.from(unreleasable.keys()))
        if (due.length === 0) return released
        const exits = yield* committer.submitAll(due.map(expireCommand))
        let skipped = 0
        for (const [i, exit] of exits.entries()) {
          if (Exit.isFailure(exit) && (yield* noteFailure(due[i]!, exit.cause, nowMs))) skipped++
        }
        const now = exits.filter(Exit.isSuccess).length
        yield* Metric.incrementBy(holdsExpired, now)
        released += now
        // A hold another process released is not released here: stop once nothing moves. Holds
        // skipped just now are left out of the next page, which may hold releasable ones.
        if (due.length < ExpiryBatchSize || (now === 0 && skipped === 0)) return released
      }
    })

    const round = expireDue.pipe(
      Effect.tap((released) =>
        released > 0 ? Effect.logInfo("Released expired holds").pipe(Effect.annotateLogs({ released })) : Effect.void
      ),
      Effect.catchAllCause((cause) => Effect.logWarning("Releasing expired holds failed; trying again", cause))
    )

    // The search for due holds runs every second and finds none most of the time: with traces
    // exported it would be a trace of its own every second, so it is not traced. The batch that
    // releases holds is, by the committer (WriteBatch.commit).
    yield* Effect.forkScoped(Effect.repeat(round, Schedule.spaced(config.expiryInterval)).pipe(Effect.withTracerEnabled(false)))

    return { create, capture, void: cancel, get, list, expireDue } as const
  })
}) {}

import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { CaptureExceedsHold, HoldNotActive, HoldNotFound } from "../domain/Hold.ts"
import { type IdempotencyKey, IdempotencyKeyConflict, IdempotencyKeyMissing } from "../domain/Idempotency.ts"
import { TransactionNotFound } from "../domain/Lookup.ts"
import { AlreadyReversed, NotReversible } from "../domain/Reversal.ts"
import { DebtLimit, type WriteType } from "../domain/Transaction.ts"
import { type AnyReceipt, WriteResult } from "../domain/Write.ts"
import { walletWritesOf } from "../observability/Metrics.ts"

/**
 * What every write use case does around the committer, whichever service it belongs to
 * (WalletService, Holds): decide the key, narrow the committer's answer to the endpoint's own
 * receipt and errors, and count the outcome.
 */

/** The metric's type label: a v1 write's type, or the kind of a ledger v2 write. */
export type WriteLabel = WriteType | "TRANSFER" | "TRANSACTION" | "REVERSAL" | "HOLD" | "CAPTURE" | "VOID"

const countWrite = (type: WriteLabel, outcome: string) => Metric.increment(walletWritesOf(type, outcome))

export const countOutcome = (type: WriteLabel) => <E extends { readonly code: string }>(exit: Exit.Exit<WriteResult, E>) =>
  Exit.match(exit, {
    onSuccess: (result) => countWrite(type, result._tag === "Applied" ? "applied" : "replayed"),
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), { onNone: () => countWrite(type, "defect"), onSome: (e) => countWrite(type, e.code) })
  })

export const resolveKey = (
  bodyKey: IdempotencyKey | undefined,
  headerKey: IdempotencyKey | undefined
): Effect.Effect<IdempotencyKey, IdempotencyKeyMissing | IdempotencyKeyConflict> => {
  if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) {
    return Effect.fail(IdempotencyKeyConflict.instance)
  }
  const key = bodyKey ?? headerKey
  return key === undefined ? Effect.fail(IdempotencyKeyMissing.instance) : Effect.succeed(key)
}

/**
 * The committer answers each command with the receipt of its own kind; narrowing to it here
 * keeps each endpoint's success type exact. Any other receipt would be a bug.
 */
export const expecting = <R extends AnyReceipt>(is: (receipt: AnyReceipt) => receipt is R) =>
(result: WriteResult): Effect.Effect<WriteResult<R>> => {
  if (result._tag === "Replayed") return Effect.succeed(result)
  const receipt = result.receipt
  return is(receipt) ? Effect.succeed(WriteResult.Applied({ receipt })) : Effect.dieMessage("The committer answered with another kind of receipt")
}

/** The refusals only a reversal or a hold's command can meet. */
type ForeignRefusal = DebtLimit | TransactionNotFound | NotReversible | AlreadyReversed | HoldNotFound | HoldNotActive | CaptureExceedsHold

const isForeignRefusal = (e: unknown): e is ForeignRefusal =>
  e instanceof DebtLimit || e instanceof TransactionNotFound || e instanceof NotReversible || e instanceof AlreadyReversed ||
  e instanceof HoldNotFound || e instanceof HoldNotActive || e instanceof CaptureExceedsHold

/**
 * Any other command meeting a reversal's or a hold's refusal would be a bug: dying on them
 * keeps each endpoint's own error type.
 */
export const foreignRefusalsDie = <A, E, R>(write: Effect.Effect<A, E | ForeignRefusal, R>) =>
  write.pipe(Effect.catchIf(isForeignRefusal, Effect.die))

export const counted = (type: WriteLabel) => <A extends WriteResult, E extends { readonly code: string }, R>(write: Effect.Effect<A, E, R>) =>
  Effect.tapBoth(write, {
    onSuccess: (result) => countOutcome(type)(Exit.succeed(result)),
    onFailure: (error) => countWrite(type, error.code)
  })


import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { HoldNotActive } from "../domain/Hold.ts"
import { AlreadyReversed } from "../domain/Reversal.ts"
import { BalanceLimit, DebtLimit, InsufficientFunds } from "../domain/Transaction.ts"
import type { AnyReceipt, StoredOutcome, WriteResult } from "../domain/Write.ts"
import { CurrentApiKey } from "./Auth.ts"
import { currentRequestId } from "./RequestId.ts"

/** The status of a stored outcome, chosen here at the edge from the error classes' own annotations. */
export const storedStatus: Record<StoredOutcome, number> = {
  APPLIED: 201,
  INSUFFICIENT_FUNDS: HttpApiSchema.getStatusError(InsufficientFunds),
  BALANCE_LIMIT: HttpApiSchema.getStatusError(BalanceLimit),
  DEBT_LIMIT: HttpApiSchema.getStatusError(DebtLimit),
  ALREADY_REVERSED: HttpApiSchema.getStatusError(AlreadyReversed),
  HOLD_NOT_ACTIVE: HttpApiSchema.getStatusError(HoldNotActive)
}

/**
 * A replay is the first response again, byte for byte, marked so the client can tell. An error
 * body named its request: the first request's id goes back in, where withRequestId put it.
 */
export const respond = <R extends AnyReceipt>(result: WriteResult<R>): R | HttpServerResponse.HttpServerResponse =>
  respondWith(storedStatus.APPLIED)(result)

/** As respond, for an endpoint whose success is not 201 (a void answers 200), replays included. */
export const respondWith = (appliedStatus: number) =>
<R extends AnyReceipt>(result: WriteResult<R>): R | HttpServerResponse.HttpServerResponse =>
  result._tag === "Applied"
    ? result.receipt
    : HttpServerResponse.unsafeJson(
      result.outcome !== "APPLIED" && result.requestId !== null && typeof result.body === "object"
        ? { ...result.body, requestId: result.requestId }
        : result.body,
      {
        status: result.outcome === "APPLIED" ? appliedStatus : storedStatus[result.outcome],
        headers: { "idempotent-replayed": "true" }
      }
    )

/**
 * What a write handler passes on as plain data: the request's id, kept with a stored outcome,
 * and the caller's key id, kept on the transaction.
 */
export const origin = Effect.zip(FiberRef.get(currentRequestId), Effect.map(CurrentApiKey, (caller) => caller.keyId))

import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import * as FiberRef from "effect/FiberRef"
import { BalanceLimit, InsufficientFunds } from "../domain/Transaction.ts"
import type { AnyReceipt, StoredOutcome, WriteResult } from "../domain/Write.ts"
import { currentRequestId } from "./RequestId.ts"

/** The status of a stored outcome, chosen here at the edge from the error classes' own annotations. */
export const storedStatus: Record<StoredOutcome, number> = {
  APPLIED: 201,
  INSUFFICIENT_FUNDS: HttpApiSchema.getStatusError(InsufficientFunds),
  BALANCE_LIMIT: HttpApiSchema.getStatusError(BalanceLimit)
}

/**
 * A replay is the first response again, byte for byte, marked so the client can tell. An error
 * body named its request: the first request's id goes back in, where withRequestId put it.
 */
export const respond = <R extends AnyReceipt>(result: WriteResult<R>): R | HttpServerResponse.HttpServerResponse =>
  result._tag === "Applied"
    ? result.receipt
    : HttpServerResponse.unsafeJson(
      result.outcome !== "APPLIED" && result.requestId !== null && typeof result.body === "object"
        ? { ...result.body, requestId: result.requestId }
        : result.body,
      { status: storedStatus[result.outcome], headers: { "idempotent-replayed": "true" } }
    )

/** What a write handler passes on: the request's id, kept with a stored outcome. */
export const requestId = FiberRef.get(currentRequestId)

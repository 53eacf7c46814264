import { HttpApiBuilder, HttpApiSchema } from "@effect/platform"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { InternalError, ServiceUnavailable } from "../domain/Http.ts"
import { HoldReceipt, SettlementReceipt } from "../domain/Hold.ts"
import { ReversalReceipt } from "../domain/Reversal.ts"
import { Receipt } from "../domain/Transaction.ts"
import { MultiLegReceipt, TransferReceipt } from "../domain/Transfer.ts"
import { BulkWriteResult } from "../domain/Bulk.ts"
import { type WriteResult, WriteRefusal } from "../domain/Write.ts"
import { isUnavailable } from "../SqlFailure.ts"
import type { CommitError } from "../wallet/Committer.ts"
import { WalletService } from "../wallet/WalletService.ts"
import { WalletApi } from "./Api.ts"
import { origin, respond, storedStatus } from "./WriteAnswer.ts"

/** What one bulk item may end with: a write's own refusal, or the server going away under it. */
const ItemError = Schema.Union(...WriteRefusal.members, ServiceUnavailable)
const encodeItemError = Schema.encodeSync(ItemError)
// Bulk items are v1 writes, answered with a Receipt; the union keeps the encoding total.
const encodeReceipt = Schema.encodeSync(
  Schema.Union(Receipt, TransferReceipt, MultiLegReceipt, ReversalReceipt, HoldReceipt, SettlementReceipt)
)
const itemErrorStatus = Object.fromEntries(
  ItemError.members.map((member) => [member.identifier, HttpApiSchema.getStatusError(member)])
)

const encodeUnavailable = Schema.encodeSync(ServiceUnavailable)
const encodeInternal = Schema.encodeSync(InternalError)

/**
 * A failure of an item's own commit (its batch could not commit even alone) is answered in its
 * place as its single endpoint would have: 503 when the database could not serve (safe to retry
 * with the same key), else 500, logged. The other items keep their own answers.
 */
const itemDefect = (cause: Cause.Cause<never>, index: number) =>
  Chunk.some(Cause.defects(cause), isUnavailable)
    ? Effect.succeed({
      index,
      status: 503,
      body: encodeUnavailable(new ServiceUnavailable({ status: "unavailable", message: "The database is unavailable; retry later" }))
    })
    : Effect.logError("A bulk item failed", cause).pipe(
      Effect.as({ index, status: 500, body: encodeInternal(new InternalError({ message: "An unexpected error occurred; it has been logged" })) })
    )

/** One bulk item's answer: the status and body its single endpoint would have sent. */
const itemResult = (exit: Exit.Exit<WriteResult, CommitError>, index: number) =>
  Exit.match(exit, {
    onSuccess: (result) =>
      Effect.succeed(
        result._tag === "Applied"
          ? { index, status: 201, body: encodeReceipt(result.receipt) }
          : { index, status: storedStatus[result.outcome], body: result.body }
      ),
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), {
        onNone: () => itemDefect(Cause.stripFailures(cause), index),
        onSome: (error) => Effect.succeed({ index, status: itemErrorStatus[error._tag]!, body: encodeItemError(error) })
      })
  })

export const WalletsHttpLive = HttpApiBuilder.group(WalletApi, "wallets", (handlers) =>
  Effect.gen(function*() {
    const wallets = yield* WalletService
    return handlers
      .handle("topup", ({ headers, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => wallets.topup(payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("bonus", ({ headers, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => wallets.bonus(payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("spend", ({ headers, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => wallets.spend(payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("transfer", ({ headers, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => wallets.transfer(payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("bulk", ({ payload }) =>
        origin.pipe(Effect.flatMap(([id, by]) => wallets.bulk(payload.items, id, by))).pipe(
          Effect.flatMap((exits) => Effect.forEach(exits, itemResult)),
          Effect.map((results) => new BulkWriteResult({ results }))
        ))
      .handle("balance", ({ path, urlParams }) => wallets.balance(path.userId, urlParams.assetCode, urlParams.at))
      .handle("history", ({ path, urlParams }) => wallets.history(path.userId, urlParams))
  }))

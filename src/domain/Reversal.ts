import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { IdempotencyKey } from "./Idempotency.ts"
import { Metadata, MetadataField } from "./Metadata.ts"
import { Amount } from "./Money.ts"
import { Description, TransactionId, type TransactionType } from "./Transaction.ts"
import { PostedLeg } from "./Transfer.ts"

/**
 * What a reversal may undo: the clients' own writes. An opening balance (GENESIS) is the
 * ledger's starting point, and a reversal is not reversed again (a new write corrects it).
 */
export const ReversibleTypes: ReadonlySet<TransactionType> = new Set(["TOPUP", "BONUS", "SPEND", "TRANSFER", "TRANSACTION"])

/** The body of a reversal. */
export class ReversalRequest extends Schema.Class<ReversalRequest>("ReversalRequest")({
  amount: Schema.optional(Amount.annotations({
    description: "Part of a one-leg transaction to reverse; default what is left of it. Not for multi-leg transactions."
  })),
  allowDebt: Schema.optionalWith(Schema.Boolean, { default: () => false }).annotations({
    description: "Let the player's balance go below zero, down to minus the asset's maxDebt (default false)"
  }),
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

/** What a reversal returns, and what its key replays: its legs, each the mirror of one of the original's. */
export class ReversalReceipt extends Schema.Class<ReversalReceipt>("ReversalReceipt")({
  transactionId: TransactionId,
  type: Schema.Literal("REVERSAL"),
  reverses: TransactionId,
  legs: Schema.Array(PostedLeg),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdAt: Schema.Date
}) {}

/** The reversal asked for more than is left of the transaction to reverse. */
export class AlreadyReversed extends Schema.TaggedError<AlreadyReversed>()(
  "AlreadyReversed",
  {
    code: errorCode("ALREADY_REVERSED"),
    message: Schema.String,
    transactionId: Schema.String,
    reversible: Schema.Number.annotations({ description: "What is left to reverse (0 when reversed whole)" }),
    amount: Schema.Number
  },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(transactionId: string, reversible: number, amount: number) {
    return new AlreadyReversed({
      transactionId,
      reversible,
      amount,
      message: reversible === 0
        ? `Transaction ${transactionId} is already reversed`
        : `Only ${reversible} of transaction ${transactionId} is left to reverse, not ${amount}`
    })
  }
}

/** A transaction of a kind that is not reversed (or not in part). */
export class NotReversible extends Schema.TaggedError<NotReversible>()(
  "NotReversible",
  { code: errorCode("NOT_REVERSIBLE"), message: Schema.String, transactionId: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {
  static of(transactionId: string, message: string) {
    return new NotReversible({ transactionId, message })
  }
}

import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { AssetCode } from "./Asset.ts"
import { errorCode } from "./ErrorCode.ts"
import { IdempotencyKey } from "./Idempotency.ts"
import { BoundedText } from "./Limits.ts"
import { Metadata, MetadataField } from "./Metadata.ts"
import { Amount, Balance } from "./Money.ts"
import { UserId } from "./User.ts"

export const TransactionId = Schema.UUID.pipe(Schema.brand("TransactionId"))
export type TransactionId = typeof TransactionId.Type

/**
 * GENESIS is an opening balance written by the seed; the API writes the others: TRANSFER moves
 * one asset between two players, TRANSACTION is a multi-leg transaction, REVERSAL mirrors the
 * legs of an earlier transaction. HOLD moves a player's amount into escrow; CAPTURE pays it (or
 * part of it) out, the rest back; RELEASE returns it all (a void or an expiry).
 */
export const TransactionType = Schema.Literal(
  "GENESIS",
  "TOPUP",
  "BONUS",
  "SPEND",
  "TRANSFER",
  "TRANSACTION",
  "REVERSAL",
  "HOLD",
  "CAPTURE",
  "RELEASE"
)
export type TransactionType = typeof TransactionType.Type

/** The transactions a client can ask for. */
export const WriteType = Schema.Literal("TOPUP", "BONUS", "SPEND")
export type WriteType = typeof WriteType.Type

export const Description = BoundedText({ minChars: 0, maxChars: 500 }).pipe(
  Schema.annotations({ description: "Free text kept with the transaction (at most 500 characters)" })
)

/**
 * Which leg of a multi-leg transaction an error is about (from 0, in request order); absent
 * for the one-leg writes, whose bodies stay as they were.
 */
export const LegIndexField = Schema.optional(Schema.Int.annotations({ description: "The refused leg, from 0 (multi-leg transactions only)" }))

/** The body of a topup, bonus or spend. */
export class WriteRequest extends Schema.Class<WriteRequest>("WriteRequest")({
  userId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

/** What a successful write returns, and what its idempotency key replays. */
export class Receipt extends Schema.Class<Receipt>("Receipt")({
  transactionId: TransactionId,
  type: TransactionType,
  userId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  balance: Balance.annotations({ description: "The user's balance after this transaction" }),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdAt: Schema.Date
}) {}

export class InsufficientFunds extends Schema.TaggedError<InsufficientFunds>()(
  "InsufficientFunds",
  {
    code: errorCode("INSUFFICIENT_FUNDS"),
    message: Schema.String,
    userId: Schema.Number,
    assetCode: Schema.String,
    balance: Schema.Number,
    amount: Schema.Number,
    legIndex: LegIndexField
  },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** A credit would carry a balance (or the treasury's issued total) past 2^53 - 1. */
export class BalanceLimit extends Schema.TaggedError<BalanceLimit>()(
  "BalanceLimit",
  {
    code: errorCode("BALANCE_LIMIT"),
    message: Schema.String,
    userId: Schema.Number,
    assetCode: Schema.String,
    amount: Schema.Number,
    legIndex: LegIndexField
  },
  HttpApiSchema.annotations({ status: 422 })
) {}

/**
 * A reversal that allows debt would take a player's balance below minus its asset's maxDebt
 * (with maxDebt 0, below zero).
 */
export class DebtLimit extends Schema.TaggedError<DebtLimit>()(
  "DebtLimit",
  {
    code: errorCode("DEBT_LIMIT"),
    message: Schema.String,
    userId: Schema.Number,
    assetCode: Schema.String,
    balance: Schema.Number,
    amount: Schema.Number,
    maxDebt: Schema.Number,
    legIndex: LegIndexField
  },
  HttpApiSchema.annotations({ status: 409 })
) {}

/** The outcomes of a posting that are final for its request, and so stored under its key. */
export type PostingRejection = InsufficientFunds | BalanceLimit | DebtLimit

import * as Schema from "effect/Schema"
import { AssetCode } from "./Asset.ts"
import { IdempotencyKey } from "./Idempotency.ts"
import { Metadata, MetadataField } from "./Metadata.ts"
import { Amount, Balance } from "./Money.ts"
import { Description, TransactionId } from "./Transaction.ts"
import { UserId } from "./User.ts"

/** The most legs one multi-leg transaction may have. */
export const LegsMax = 100

/** The body of a transfer: one asset from one player to another. */
export class TransferRequest extends Schema.Class<TransferRequest>("TransferRequest")({
  fromUserId: UserId,
  toUserId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

/** What a transfer returns, and what its key replays: both sides' balances after it. */
export class TransferReceipt extends Schema.Class<TransferReceipt>("TransferReceipt")({
  transactionId: TransactionId,
  type: Schema.Literal("TRANSFER"),
  fromUserId: UserId,
  toUserId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  fromBalance: Balance.annotations({ description: "The sender's balance after this transfer" }),
  toBalance: Balance.annotations({ description: "The receiver's balance after this transfer" }),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdAt: Schema.Date
}) {}

/** One leg of a multi-leg transaction: an amount of one asset from one user to another. */
export class LegRequest extends Schema.Class<LegRequest>("LegRequest")({
  fromUserId: UserId,
  toUserId: UserId,
  assetCode: AssetCode,
  amount: Amount
}) {}

/** The body of a multi-leg transaction: its legs apply in order, all or none. */
export class MultiLegRequest extends Schema.Class<MultiLegRequest>("MultiLegRequest")({
  legs: Schema.Array(LegRequest).pipe(
    Schema.minItems(1),
    Schema.maxItems(LegsMax),
    Schema.annotations({ description: `1 to ${LegsMax} legs, applied in order, all or none` })
  ),
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

/** A leg as it applied: both sides' balances right after it, before the next leg. */
export class PostedLeg extends Schema.Class<PostedLeg>("PostedLeg")({
  fromUserId: UserId,
  toUserId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  fromBalance: Balance.annotations({ description: "The sender's balance after this leg" }),
  toBalance: Balance.annotations({ description: "The receiver's balance after this leg" })
}) {}

/** What a multi-leg transaction returns, and what its key replays. */
export class MultiLegReceipt extends Schema.Class<MultiLegReceipt>("MultiLegReceipt")({
  transactionId: TransactionId,
  type: Schema.Literal("TRANSACTION"),
  legs: Schema.Array(PostedLeg),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdAt: Schema.Date
}) {}

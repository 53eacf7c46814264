import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { AssetCode } from "./Asset.ts"
import { errorCode } from "./ErrorCode.ts"
import { HistoryCursor, HistoryLimitDefault, HistoryLimitMax } from "./History.ts"
import { PositiveIntFromString } from "./Limits.ts"
import { MetadataField } from "./Metadata.ts"
import { Amount, Balance } from "./Money.ts"
import { WalletId } from "./Posting.ts"
import { TransactionId, TransactionType } from "./Transaction.ts"
import { UserId, UserIdFromString } from "./User.ts"

export const TransactionPath = Schema.Struct({ transactionId: TransactionId })

/** One side of a transaction in one wallet. */
export class TransactionEntry extends Schema.Class<TransactionEntry>("TransactionEntry")({
  entryId: Schema.Number,
  walletId: WalletId,
  userId: UserId,
  assetCode: AssetCode,
  entryType: Schema.Literal("DEBIT", "CREDIT"),
  amount: Amount,
  balanceAfter: Balance
}) {}

/** Money moved from one user to another: a DEBIT and its CREDIT. */
export class TransactionLeg extends Schema.Class<TransactionLeg>("TransactionLeg")({
  fromUserId: UserId,
  toUserId: UserId,
  assetCode: AssetCode,
  amount: Amount
}) {}

export class TransactionDetail extends Schema.Class<TransactionDetail>("TransactionDetail")({
  transactionId: TransactionId,
  type: TransactionType,
  legs: Schema.Array(TransactionLeg),
  entries: Schema.Array(TransactionEntry),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdAt: Schema.Date
}) {}

/**
 * The legs of a transaction read from its entries: each DEBIT paired with the CREDIT of the
 * same asset and amount that follows it in entry order.
 */
export const legsOf = (entries: ReadonlyArray<TransactionEntry>): ReadonlyArray<TransactionLeg> => {
  const open = [...entries].sort((a, b) => a.entryId - b.entryId)
  const legs: Array<TransactionLeg> = []
  while (open.length > 0) {
    const debitAt = open.findIndex((entry) => entry.entryType === "DEBIT")
    if (debitAt === -1) break
    const debit = open.splice(debitAt, 1)[0]!
    const creditAt = open.findIndex((entry) =>
      entry.entryType === "CREDIT" && entry.assetCode === debit.assetCode && entry.amount === debit.amount
    )
    if (creditAt === -1) break
    const credit = open.splice(creditAt, 1)[0]!
    legs.push(new TransactionLeg({ fromUserId: debit.userId, toUserId: credit.userId, assetCode: debit.assetCode, amount: debit.amount }))
  }
  return legs
}

export class TransactionNotFound extends Schema.TaggedError<TransactionNotFound>()(
  "TransactionNotFound",
  { code: errorCode("TRANSACTION_NOT_FOUND"), message: Schema.String, transactionId: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(transactionId: string) {
    return new TransactionNotFound({ transactionId, message: `Transaction ${transactionId} does not exist` })
  }
}

export const TransactionQuery = Schema.Struct({
  userId: UserIdFromString,
  assetCode: Schema.optional(AssetCode),
  type: Schema.optional(TransactionType),
  from: Schema.optional(Schema.Date).annotations({ description: "ISO-8601; transactions created then or later" }),
  to: Schema.optional(Schema.Date).annotations({ description: "ISO-8601; transactions created before then" }),
  limit: Schema.optional(PositiveIntFromString(HistoryLimitMax).pipe(Schema.greaterThanOrEqualTo(1))).annotations({
    description: `1 to ${HistoryLimitMax}, default ${HistoryLimitDefault}`
  }),
  cursor: Schema.optional(HistoryCursor)
})
export type TransactionQuery = typeof TransactionQuery.Type

export class TransactionPage extends Schema.Class<TransactionPage>("TransactionPage")({
  items: Schema.Array(TransactionDetail),
  limit: Schema.Int,
  nextCursor: Schema.NullOr(HistoryCursor)
}) {}

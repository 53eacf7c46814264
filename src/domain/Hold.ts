import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { AssetCode } from "./Asset.ts"
import { errorCode } from "./ErrorCode.ts"
import { IdempotencyKey } from "./Idempotency.ts"
import { Metadata, MetadataField } from "./Metadata.ts"
import { Amount, Balance } from "./Money.ts"
import { Description, TransactionId } from "./Transaction.ts"
import { PostedLeg } from "./Transfer.ts"
import { PositiveIntFromString } from "./Limits.ts"
import { UserId, UserIdFromString } from "./User.ts"

export const HoldId = Schema.UUID.pipe(Schema.brand("HoldId"))
export type HoldId = typeof HoldId.Type

export const HoldPath = Schema.Struct({ holdId: HoldId })

/** HELD until settled once: CAPTURED, VOIDED, or EXPIRED by the service itself. */
export const HoldStatus = Schema.Literal("HELD", "CAPTURED", "VOIDED", "EXPIRED")
export type HoldStatus = typeof HoldStatus.Type

/** A week at most, so that no player's funds are held for longer without anyone settling them. */
export const HoldSecondsMax = 604_800
export const HoldSecondsDefault = 900

export class HoldRequest extends Schema.Class<HoldRequest>("HoldRequest")({
  userId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  expiresInSeconds: Schema.optionalWith(
    Schema.Int.pipe(Schema.between(1, HoldSecondsMax)).annotations({
      description: `Seconds until the hold expires and its amount returns to the player: 1 to ${HoldSecondsMax} (default ${HoldSecondsDefault})`
    }),
    { default: () => HoldSecondsDefault }
  ),
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

export class CaptureRequest extends Schema.Class<CaptureRequest>("CaptureRequest")({
  amount: Schema.optional(Amount.annotations({ description: "At most the hold's amount (default all of it); the rest returns to the player" })),
  toUserId: Schema.optional(UserId.annotations({ description: "Who receives the captured amount (default the treasury, user 1)" })),
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

export class VoidRequest extends Schema.Class<VoidRequest>("VoidRequest")({
  idempotencyKey: Schema.optional(IdempotencyKey),
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

/** A hold as it stands. */
export class Hold extends Schema.Class<Hold>("Hold")({
  holdId: HoldId,
  status: HoldStatus,
  userId: UserId,
  assetCode: AssetCode,
  amount: Amount,
  capturedAmount: Schema.Int,
  expiresAt: Schema.Date,
  createdAt: Schema.Date,
  transactionId: TransactionId.annotations({ description: "The HOLD transaction that moved the amount into escrow" }),
  settlementTransactionId: Schema.NullOr(TransactionId).annotations({
    description: "The CAPTURE or RELEASE transaction that settled it; null while HELD"
  }),
  settledAt: Schema.NullOr(Schema.Date)
}) {}

export const HoldListLimitDefault = 20
export const HoldListLimitMax = 100

/** A player's holds, newest first: all of them or those of one status, at most `limit`. */
export const HoldListQuery = Schema.Struct({
  userId: UserIdFromString,
  status: Schema.optional(HoldStatus),
  limit: Schema.optional(PositiveIntFromString(HoldListLimitMax, 1)).annotations({
    description: `1 to ${HoldListLimitMax}, default ${HoldListLimitDefault}`
  })
})
export type HoldListQuery = typeof HoldListQuery.Type

export class HoldList extends Schema.Class<HoldList>("HoldList")({ items: Schema.Array(Hold) }) {}

/** What a new hold returns, and what its key replays: the hold and the player's spendable balance. */
export class HoldReceipt extends Schema.Class<HoldReceipt>("HoldReceipt")({
  ...Hold.fields,
  balance: Balance.annotations({ description: "The player's spendable balance after the hold" }),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField
}) {}

/** What a capture, void or expiry returns: the hold settled and its transaction's legs. */
export class SettlementReceipt extends Schema.Class<SettlementReceipt>("SettlementReceipt")({
  hold: Hold,
  transactionId: TransactionId,
  type: Schema.Literal("CAPTURE", "RELEASE"),
  legs: Schema.Array(PostedLeg),
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdAt: Schema.Date
}) {}

export class HoldNotFound extends Schema.TaggedError<HoldNotFound>()(
  "HoldNotFound",
  { code: errorCode("HOLD_NOT_FOUND"), message: Schema.String, holdId: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(holdId: string) {
    return new HoldNotFound({ holdId, message: `Hold ${holdId} does not exist` })
  }
}

/** The hold was settled already, or is past its expiry (the service is releasing it). */
export class HoldNotActive extends Schema.TaggedError<HoldNotActive>()(
  "HoldNotActive",
  { code: errorCode("HOLD_NOT_ACTIVE"), message: Schema.String, holdId: Schema.String, status: HoldStatus },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(holdId: string, status: HoldStatus) {
    return new HoldNotActive({
      holdId,
      status,
      message: status === "HELD" ? `Hold ${holdId} has expired` : `Hold ${holdId} is ${status}, no longer active`
    })
  }
}

/** A capture of more than the hold holds. */
export class CaptureExceedsHold extends Schema.TaggedError<CaptureExceedsHold>()(
  "CaptureExceedsHold",
  { code: errorCode("CAPTURE_EXCEEDS_HOLD"), message: Schema.String, holdId: Schema.String, amount: Schema.Number, held: Schema.Number },
  HttpApiSchema.annotations({ status: 422 })
) {
  static of(holdId: string, amount: number, held: number) {
    return new CaptureExceedsHold({ holdId, amount, held, message: `Hold ${holdId} holds ${held}, less than ${amount}` })
  }
}

/** Whether a hold can still be captured or voided at `now`: held, and not yet expired. */
export const isActive = (hold: { readonly status: HoldStatus; readonly expiresAt: Date }, now: Date): boolean =>
  hold.status === "HELD" && now.getTime() < hold.expiresAt.getTime()

import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { BoundedText, MaxAmount } from "./Limits.ts"

/**
 * The code of a currency, compared case-sensitively. Its shape is not checked here: a code
 * that names no asset is a 404 from the database, not a 400.
 */
export const AssetCode = BoundedText({ minChars: 1, maxChars: 32 }).pipe(
  Schema.brand("AssetCode"),
  Schema.annotations({ description: "Case-sensitive code of an existing asset", examples: ["GOLD_COINS" as never] })
)
export type AssetCode = typeof AssetCode.Type

export class AssetNotFound extends Schema.TaggedError<AssetNotFound>()(
  "AssetNotFound",
  {
    code: errorCode("ASSET_NOT_FOUND"),
    message: Schema.String,
    assetCode: Schema.String,
    /** The leg of a multi-leg transaction that names the asset; absent elsewhere. */
    legIndex: Schema.optional(Schema.Int)
  },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(assetCode: string, legIndex?: number) {
    return new AssetNotFound({
      assetCode,
      message: `Asset ${assetCode} does not exist`,
      ...(legIndex === undefined ? {} : { legIndex })
    })
  }
}

/** The code of a new asset: what the database's CHECK allows, refused with a 400 before it gets there. */
export const NewAssetCode = Schema.String.pipe(
  Schema.pattern(/^[A-Z][A-Z0-9_]{0,31}$/, {
    message: () => "expected 1 to 32 of A-Z, 0-9 and '_', starting with a letter"
  }),
  Schema.compose(AssetCode)
)

/**
 * How far below zero a player's balance of this asset may go, and only through a reversal
 * that allows debt (a refund of coins already spent). 0: never below zero.
 */
export const MaxDebt = Schema.Int.pipe(
  Schema.between(0, MaxAmount),
  Schema.annotations({ description: "How far below zero a reversal may take a player's balance (0 to 9007199254740991)" })
)

export class NewAsset extends Schema.Class<NewAsset>("NewAsset")({
  code: NewAssetCode,
  name: BoundedText({ minChars: 1, maxChars: 100 }),
  maxDebt: Schema.optionalWith(MaxDebt, { default: () => 0 })
}) {}

/**
 * What may change of an asset: its name, its maxDebt, or both (the code never changes). A
 * lower maxDebt than a player already owes is refused by the database (MaxDebtInUse).
 */
export class AssetUpdate extends Schema.Class<AssetUpdate>("AssetUpdate")(
  Schema.Struct({
    name: Schema.optional(BoundedText({ minChars: 1, maxChars: 100 })),
    maxDebt: Schema.optional(MaxDebt)
  }).pipe(
    Schema.filter((update) => update.name !== undefined || update.maxDebt !== undefined || "expected name, maxDebt or both", {
      jsonSchema: { minProperties: 1 }
    })
  )
) {}

/**
 * A lower maxDebt than a player of the asset owes: every wallet keeps a copy of the limit for
 * its floor (balance >= -maxDebt), so the change would put that wallet below its floor.
 */
export class MaxDebtInUse extends Schema.TaggedError<MaxDebtInUse>()(
  "MaxDebtInUse",
  {
    code: errorCode("MAX_DEBT_IN_USE"),
    message: Schema.String,
    assetCode: Schema.String,
    maxDebt: Schema.Number,
    /** The largest debt of a player of the asset when the change was refused. */
    largestDebt: Schema.Number
  },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(assetCode: string, maxDebt: number, largestDebt: number) {
    return new MaxDebtInUse({
      assetCode,
      maxDebt,
      largestDebt,
      message: `Asset ${assetCode}: maxDebt cannot go down to ${maxDebt} while a player owes ${largestDebt}`
    })
  }
}

/** The asset named in a path. */
export const AssetPath = Schema.Struct({ code: AssetCode })

export class Asset extends Schema.Class<Asset>("Asset")({
  code: AssetCode,
  name: Schema.String,
  maxDebt: MaxDebt,
  createdAt: Schema.Date
}) {}

export class AssetList extends Schema.Class<AssetList>("AssetList")({ assets: Schema.Array(Asset) }) {}

export class AssetExists extends Schema.TaggedError<AssetExists>()(
  "AssetExists",
  { code: errorCode("ASSET_EXISTS"), message: Schema.String, assetCode: Schema.String },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(assetCode: string) {
    return new AssetExists({ assetCode, message: `Asset ${assetCode} already exists` })
  }
}

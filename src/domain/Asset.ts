import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { BoundedText } from "./Limits.ts"

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
  { code: errorCode("ASSET_NOT_FOUND"), message: Schema.String, assetCode: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(assetCode: string) {
    return new AssetNotFound({ assetCode, message: `Asset ${assetCode} does not exist` })
  }
}

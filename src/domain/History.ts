import * as Encoding from "effect/Encoding"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ApiKeyId } from "./ApiKey.ts"
import { AssetCode } from "./Asset.ts"
import { Amount, Balance } from "./Money.ts"
import { MetadataField } from "./Metadata.ts"
import { TransactionId, TransactionType } from "./Transaction.ts"
import { MaxAmount, PositiveIntFromString } from "./Limits.ts"

export const HistoryLimitMax = 100
export const HistoryLimitDefault = 20
/** Deep offsets make PostgreSQL walk and discard rows; past this, page with the cursor. */
export const HistoryOffsetMax = 10_000

/**
 * A keyset position: history continues strictly below this ledger entry id. Opaque to clients
 * (base64url of "e<id>"), so the encoding may change without breaking them.
 */
export const HistoryCursor = Schema.transformOrFail(Schema.String, Schema.Number, {
  strict: true,
  decode: (cursor, _, ast) => {
    const digits = Either.match(Encoding.decodeBase64UrlString(cursor), {
      onLeft: () => undefined,
      onRight: (text) => /^e([1-9][0-9]{0,15})$/.exec(text)?.[1]
    })
    return digits !== undefined && Number(digits) <= MaxAmount
      ? ParseResult.succeed(Number(digits))
      : ParseResult.fail(new ParseResult.Type(ast, cursor, "expected a cursor returned as nextCursor"))
  },
  encode: (entryId) => ParseResult.succeed(Encoding.encodeBase64Url(`e${entryId}`))
}).annotations({ description: "Opaque cursor from a previous page's nextCursor" })

/** limit and offset are optional for clients; the service applies the defaults. */
export const HistoryQuery = Schema.Struct({
  limit: Schema.optional(PositiveIntFromString(HistoryLimitMax, 1)).annotations({
    description: `1 to ${HistoryLimitMax}, default ${HistoryLimitDefault}`
  }),
  offset: Schema.optional(PositiveIntFromString(HistoryOffsetMax)).annotations({
    description: `0 to ${HistoryOffsetMax}, default 0`
  }),
  assetCode: Schema.optional(AssetCode),
  cursor: Schema.optional(HistoryCursor)
})
export type HistoryQuery = typeof HistoryQuery.Type

/** One ledger entry of the user's, seen from the user's wallet. */
export class HistoryItem extends Schema.Class<HistoryItem>("HistoryItem")({
  transactionId: TransactionId,
  type: TransactionType,
  assetCode: AssetCode,
  entryType: Schema.Literal("DEBIT", "CREDIT"),
  amount: Amount,
  balanceAfter: Balance,
  description: Schema.NullOr(Schema.String),
  metadata: MetadataField,
  createdBy: Schema.NullOr(ApiKeyId).annotations({
    description: "The API key that wrote the transaction; null for ADMIN_API_KEY, AUTH_DISABLED and opening balances"
  }),
  createdAt: Schema.Date
}) {}

export class HistoryPage extends Schema.Class<HistoryPage>("HistoryPage")({
  items: Schema.Array(HistoryItem),
  limit: Schema.Int,
  offset: Schema.Int,
  nextCursor: Schema.NullOr(HistoryCursor)
}) {}

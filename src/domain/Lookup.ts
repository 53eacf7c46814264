import { HttpApiSchema } from "@effect/platform"
import * as Encoding from "effect/Encoding"
import * as Either from "effect/Either"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { ApiKeyId } from "./ApiKey.ts"
import { AssetCode } from "./Asset.ts"
import { errorCode } from "./ErrorCode.ts"
import { HistoryLimitDefault, HistoryLimitMax } from "./History.ts"
import { MaxAmount, PositiveIntFromString } from "./Limits.ts"
import { Metadata, MetadataField, MetadataValueCharsMax } from "./Metadata.ts"
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
  createdBy: Schema.NullOr(ApiKeyId).annotations({
    description: "The API key that wrote the transaction; null for ADMIN_API_KEY, AUTH_DISABLED and opening balances"
  }),
  reverses: Schema.NullOr(TransactionId).annotations({ description: "The transaction a REVERSAL reverses; null otherwise" }),
  reversedBy: Schema.Array(TransactionId).annotations({ description: "The reversals of this transaction, oldest first" }),
  createdAt: Schema.Date
}) {}

/** An entry as the ledger keeps it: with the leg it belongs to. */
export interface LeggedEntry extends TransactionEntry {
  readonly legIndex: number
}

/**
 * The legs of a transaction read from its entries, in leg order: each leg's DEBIT is its
 * sender, its CREDIT its receiver (the database keeps exactly one of each per leg).
 */
export const legsOf = (entries: ReadonlyArray<LeggedEntry>): ReadonlyArray<TransactionLeg> => {
  const byLeg = new Map<number, { debit?: LeggedEntry; credit?: LeggedEntry }>()
  for (const entry of entries) {
    const leg = byLeg.get(entry.legIndex) ?? {}
    byLeg.set(entry.legIndex, entry.entryType === "DEBIT" ? { ...leg, debit: entry } : { ...leg, credit: entry })
  }
  return Array.from(byLeg).sort(([a], [b]) => a - b).flatMap(([, { credit, debit }]) =>
    debit === undefined || credit === undefined
      ? []
      : [new TransactionLeg({ fromUserId: debit.userId, toUserId: credit.userId, assetCode: debit.assetCode, amount: debit.amount })]
  )
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

/**
 * Where a page of transactions stops, opaque to clients (base64url): below one of the user's
 * ledger entries ("e<entryId>") for a search by user, below a transaction's (time in
 * microseconds, id) for a search by metadata alone ("t<micros>.<uuid>").
 */
export type TransactionCursor =
  | { readonly _tag: "Entry"; readonly entryId: number }
  | { readonly _tag: "Time"; readonly micros: number; readonly transactionId: string }

const cursorText = /^(?:e([1-9][0-9]{0,15})|t([1-9][0-9]{0,16})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))$/

export const TransactionCursor = Schema.transformOrFail(
  Schema.String,
  Schema.declare((u): u is TransactionCursor => typeof u === "object" && u !== null && "_tag" in u),
  {
    strict: true,
    decode: (cursor, _, ast) => {
      const match = Either.match(Encoding.decodeBase64UrlString(cursor), {
        onLeft: () => null,
        onRight: (text) => cursorText.exec(text)
      })
      if (match !== null && match[1] !== undefined && Number(match[1]) <= MaxAmount) {
        return ParseResult.succeed({ _tag: "Entry" as const, entryId: Number(match[1]) })
      }
      if (match !== null && match[2] !== undefined && Number(match[2]) <= MaxAmount) {
        return ParseResult.succeed({ _tag: "Time" as const, micros: Number(match[2]), transactionId: match[3]! })
      }
      return ParseResult.fail(new ParseResult.Type(ast, cursor, "expected a cursor returned as nextCursor"))
    },
    encode: (cursor) =>
      ParseResult.succeed(Encoding.encodeBase64Url(
        cursor._tag === "Entry" ? `e${cursor.entryId}` : `t${cursor.micros}.${cursor.transactionId}`
      ))
  }
).annotations({ description: "Opaque cursor from a previous page's nextCursor" })

/** `metadata[orderId]=A-1001` in a query string. */
const MetadataFilterKey = Schema.TemplateLiteral("metadata[", Schema.String, "]")

export const TransactionQuery = Schema.Struct({
  userId: Schema.optional(UserIdFromString),
  assetCode: Schema.optional(AssetCode),
  type: Schema.optional(TransactionType),
  from: Schema.optional(Schema.Date).annotations({ description: "ISO-8601; transactions created then or later" }),
  to: Schema.optional(Schema.Date).annotations({ description: "ISO-8601; transactions created before then" }),
  limit: Schema.optional(PositiveIntFromString(HistoryLimitMax, 1)).annotations({
    description: `1 to ${HistoryLimitMax}, default ${HistoryLimitDefault}`
  }),
  cursor: Schema.optional(TransactionCursor)
}, Schema.Record({ key: MetadataFilterKey, value: Schema.String }))
export type TransactionQuery = typeof TransactionQuery.Type

/**
 * The `metadata[KEY]=VALUE` pairs of a search, checked as metadata is: at least one of them or
 * a userId is required, so that no search walks the whole ledger.
 */
export const metadataFilterOf = (query: TransactionQuery): Either.Either<Metadata, string> => {
  const filter: Record<string, string> = {}
  for (const [name, value] of Object.entries(query)) {
    if (name.startsWith("metadata[") && name.endsWith("]") && typeof value === "string") filter[name.slice(9, -1)] = value
  }
  return Either.mapLeft(Schema.decodeUnknownEither(Metadata)(filter), () =>
    `metadata filters need keys of [A-Za-z0-9_.-]{1,64} (at most 16) and values of at most ${MetadataValueCharsMax} characters`)
}

export class TransactionPage extends Schema.Class<TransactionPage>("TransactionPage")({
  items: Schema.Array(TransactionDetail),
  limit: Schema.Int,
  nextCursor: Schema.NullOr(TransactionCursor)
}) {}

import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import type * as Statement from "@effect/sql/Statement"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { ApiKeyId } from "../domain/ApiKey.ts"
import type { AssetCode } from "../domain/Asset.ts"
import type { TransactionCursor } from "../domain/Lookup.ts"
import { TransactionEntry } from "../domain/Lookup.ts"
import { Metadata } from "../domain/Metadata.ts"
import type { Metadata as MetadataT } from "../domain/Metadata.ts"
import { TransactionId, TransactionType } from "../domain/Transaction.ts"
import type { TransactionType as TransactionTypeT } from "../domain/Transaction.ts"
import type { UserId } from "../domain/User.ts"

/** A transaction with its entries, as one row: the entries come aggregated as JSON. */
const TransactionRow = Schema.Struct({
  transactionId: TransactionId,
  type: TransactionType,
  description: Schema.NullOr(Schema.String),
  metadata: Metadata,
  createdBy: Schema.NullOr(ApiKeyId),
  reverses: Schema.NullOr(TransactionId),
  reversedBy: Schema.Array(TransactionId),
  createdAt: Schema.DateFromSelf,
  entries: Schema.Array(Schema.Struct({ ...TransactionEntry.fields, legIndex: Schema.Int })),
  /** The newest of the user's entries in it: the page's order and cursor in a search by user. */
  position: Schema.NullOr(Schema.Number),
  /** Its time in microseconds since 1970: with its id, the order and cursor in a search by metadata. */
  micros: Schema.Number
})
export type TransactionRow = typeof TransactionRow.Type

export interface TransactionSearch {
  readonly assetCode: AssetCode | undefined
  /** Pairs every transaction found carries (metadata @>); {} for none. */
  readonly metadata: MetadataT
  readonly type: TransactionTypeT | undefined
  readonly from: Date | undefined
  readonly to: Date | undefined
  readonly limit: number
}

/** Transactions found again: by id, or a user's, newest first. Columns named in camelCase here. */
export class TransactionRepository extends Effect.Service<TransactionRepository>()("TransactionRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const entriesJson = sql`
      json_agg(json_build_object(
        'entryId', e.id, 'walletId', e.wallet_id, 'userId', w.user_id, 'assetCode', e.asset_code,
        'entryType', e.entry_type, 'amount', e.amount, 'balanceAfter', e.balance_after,
        'legIndex', e.leg_index) ORDER BY e.id)`

    const micros = sql`(extract(epoch FROM t.created_at) * 1000000)::bigint`

    /** Its reversals, through the partial index on reverses (an empty probe for most). */
    const reversedBy = sql`
      coalesce((SELECT json_agg(r.id ORDER BY r.created_at, r.id) FROM transactions r WHERE r.reverses = t.id), '[]'::json)`

    /** Transactions whole, chosen by `where`; their entries through the (transaction_id, leg_index, entry_type) unique index. */
    const wholeWhere = (where: Statement.Fragment) =>
      sql`
        SELECT t.id AS "transactionId", t.type, t.description, t.metadata, t.created_by AS "createdBy", t.reverses, ${reversedBy} AS "reversedBy", t.created_at AS "createdAt",
               ${entriesJson} AS entries, NULL::bigint AS position, ${micros} AS micros
          FROM transactions t
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN wallets w ON w.id = e.wallet_id
         WHERE ${where}
         GROUP BY t.id`

    const byId = SqlSchema.findOne({
      Request: Schema.String,
      Result: TransactionRow,
      execute: (id) => wholeWhere(sql`t.id = ${id}`)
    })

    /** Many by id, in one statement (the events feed renders a page's transactions with it); any order. */
    const byIds = SqlSchema.findAll({
      Request: Schema.Array(Schema.String),
      Result: TransactionRow,
      execute: (ids) => wholeWhere(sql`t.id = ANY(${ids}::uuid[])`)
    })

    /**
     * One more than asked, to know whether a next page exists. Each of the user's wallets is
     * read down its own (wallet_id, id DESC) index, filtered as it goes, at most as far as the
     * page reaches; only the page's transactions are then read whole.
     */
    const filters = (query: TransactionSearch) => [
      query.type === undefined ? sql`TRUE` : sql`t.type = ${query.type}`,
      query.from === undefined ? sql`TRUE` : sql`t.created_at >= ${query.from}`,
      query.to === undefined ? sql`TRUE` : sql`t.created_at < ${query.to}`,
      Object.keys(query.metadata).length === 0 ? sql`TRUE` : sql`t.metadata @> ${JSON.stringify(query.metadata)}::jsonb`
    ]

    const decodeTransactions = Schema.decodeUnknown(Schema.Array(TransactionRow))

    /** The page's transactions read whole, in the order of `position` or of (time, id). */
    const whole = (picked: Statement.Fragment, order: Statement.Fragment) =>
      Effect.flatMap(
        sql`
        WITH picked AS (${picked})
        SELECT t.id AS "transactionId", t.type, t.description, t.metadata, t.created_by AS "createdBy", t.reverses, ${reversedBy} AS "reversedBy", t.created_at AS "createdAt",
               ${entriesJson} AS entries, p.position, ${micros} AS micros
          FROM picked p
          JOIN transactions t ON t.id = p.transaction_id
          JOIN ledger_entries e ON e.transaction_id = t.id
          JOIN wallets w ON w.id = e.wallet_id
         GROUP BY t.id, p.position
         ORDER BY ${order}`,
        decodeTransactions
      )

    /**
     * A user's, one more than asked, to know whether a next page exists. Each of the user's
     * wallets is read down its own (wallet_id, id DESC) index, filtered as it goes, at most as
     * far as the page reaches; only the page's transactions are then read whole.
     */
    const byUser = (userId: UserId, query: TransactionSearch, below: number | undefined) =>
      whole(
        sql`
          SELECT page.transaction_id, max(page.id) AS position
            FROM wallets w
           CROSS JOIN LATERAL (
             SELECT e.id, e.transaction_id FROM ledger_entries e
               JOIN transactions t ON t.id = e.transaction_id
              WHERE ${sql.and([sql`e.wallet_id = w.id`, below === undefined ? sql`TRUE` : sql`e.id < ${below}`, ...filters(query)])}
              ORDER BY e.id DESC
              LIMIT ${query.limit + 1}
           ) page
           WHERE ${sql.and([sql`w.user_id = ${userId}`, query.assetCode === undefined ? sql`TRUE` : sql`w.asset_code = ${query.assetCode}`])}
           GROUP BY page.transaction_id
           ORDER BY position DESC
           LIMIT ${query.limit + 1}`,
        sql`p.position DESC`
      )

    /**
     * Everyone's transactions carrying the metadata pairs: found through the GIN index on
     * metadata, newest first by (time, id), one more than asked.
     */
    const byMetadata = (query: TransactionSearch, below: { readonly micros: number; readonly transactionId: string } | undefined) =>
      whole(
        sql`
          SELECT t.id AS transaction_id, NULL::bigint AS position
            FROM transactions t
           WHERE ${
          sql.and([
            ...filters(query),
            // A multi-leg transaction has no asset of its own: any of its legs' counts.
            query.assetCode === undefined
              ? sql`TRUE`
              : sql`EXISTS (SELECT 1 FROM ledger_entries le WHERE le.transaction_id = t.id AND le.asset_code = ${query.assetCode})`,
            below === undefined ? sql`TRUE` : sql`(${micros}, t.id) < (${below.micros}, ${below.transactionId}::uuid)`
          ])
        }
           ORDER BY ${micros} DESC, t.id DESC
           LIMIT ${query.limit + 1}`,
        sql`micros DESC, t.id DESC`
      )

    return {
      byId: (id: TransactionId) => Effect.orDie(byId(id)),
      byIds: (ids: ReadonlyArray<TransactionId>) => Effect.orDie(byIds(ids)),
      byUser: (userId: UserId, query: TransactionSearch, below: number | undefined) => Effect.orDie(byUser(userId, query, below)),
      byMetadata: (query: TransactionSearch, below: Extract<TransactionCursor, { _tag: "Time" }> | undefined) =>
        Effect.orDie(byMetadata(query, below))
    } as const
  })
}) {}

import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { AssetCode } from "../domain/Asset.ts"
import { TransactionEntry } from "../domain/Lookup.ts"
import { Metadata } from "../domain/Metadata.ts"
import { TransactionId, TransactionType } from "../domain/Transaction.ts"
import type { TransactionType as TransactionTypeT } from "../domain/Transaction.ts"
import type { UserId } from "../domain/User.ts"

/** A transaction with its entries, as one row: the entries come aggregated as JSON. */
const TransactionRow = Schema.Struct({
  transactionId: TransactionId,
  type: TransactionType,
  description: Schema.NullOr(Schema.String),
  metadata: Metadata,
  createdAt: Schema.DateFromSelf,
  entries: Schema.Array(TransactionEntry),
  /** The newest of the user's entries in it: the page's order and cursor. None for a lookup by id. */
  position: Schema.NullOr(Schema.Number)
})
export type TransactionRow = typeof TransactionRow.Type

export interface TransactionSearch {
  readonly userId: UserId
  readonly assetCode: AssetCode | undefined
  readonly type: TransactionTypeT | undefined
  readonly from: Date | undefined
  readonly to: Date | undefined
  readonly limit: number
  /** Strictly below this entry id of the user's. */
  readonly cursor: number | undefined
}

/** Transactions found again: by id, or a user's, newest first. Columns named in camelCase here. */
export class TransactionRepository extends Effect.Service<TransactionRepository>()("TransactionRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const entriesJson = sql`
      json_agg(json_build_object(
        'entryId', e.id, 'walletId', e.wallet_id, 'userId', w.user_id, 'assetCode', e.asset_code,
        'entryType', e.entry_type, 'amount', e.amount, 'balanceAfter', e.balance_after) ORDER BY e.id)`

    /** Its entries through the (transaction_id, entry_type) unique index. */
    const byId = SqlSchema.findOne({
      Request: Schema.String,
      Result: TransactionRow,
      execute: (id) =>
        sql`
          SELECT t.id AS "transactionId", t.type, t.description, t.metadata, t.created_at AS "createdAt",
                 ${entriesJson} AS entries, NULL::bigint AS position
            FROM transactions t
            JOIN ledger_entries e ON e.transaction_id = t.id
            JOIN wallets w ON w.id = e.wallet_id
           WHERE t.id = ${id}
           GROUP BY t.id`
    })

    /**
     * One more than asked, to know whether a next page exists. Each of the user's wallets is
     * read down its own (wallet_id, id DESC) index, filtered as it goes, at most as far as the
     * page reaches; only the page's transactions are then read whole.
     */
    const search = (query: TransactionSearch) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: TransactionRow,
        execute: () =>
          sql`
            WITH picked AS (
              SELECT page.transaction_id, max(page.id) AS position
                FROM wallets w
               CROSS JOIN LATERAL (
                 SELECT e.id, e.transaction_id FROM ledger_entries e
                   JOIN transactions t ON t.id = e.transaction_id
                  WHERE ${
            sql.and([
              sql`e.wallet_id = w.id`,
              query.cursor === undefined ? sql`TRUE` : sql`e.id < ${query.cursor}`,
              query.type === undefined ? sql`TRUE` : sql`t.type = ${query.type}`,
              query.from === undefined ? sql`TRUE` : sql`e.created_at >= ${query.from}`,
              query.to === undefined ? sql`TRUE` : sql`e.created_at < ${query.to}`
            ])
          }
                  ORDER BY e.id DESC
                  LIMIT ${query.limit + 1}
               ) page
               WHERE ${sql.and([sql`w.user_id = ${query.userId}`, query.assetCode === undefined ? sql`TRUE` : sql`w.asset_code = ${query.assetCode}`])}
               GROUP BY page.transaction_id
               ORDER BY position DESC
               LIMIT ${query.limit + 1}
            )
            SELECT t.id AS "transactionId", t.type, t.description, t.metadata, t.created_at AS "createdAt",
                   ${entriesJson} AS entries, p.position
              FROM picked p
              JOIN transactions t ON t.id = p.transaction_id
              JOIN ledger_entries e ON e.transaction_id = t.id
              JOIN wallets w ON w.id = e.wallet_id
             GROUP BY t.id, p.position
             ORDER BY p.position DESC`
      })(undefined)

    return {
      byId: (id: TransactionId) => Effect.orDie(byId(id)),
      search: (query: TransactionSearch) => Effect.orDie(search(query))
    } as const
  })
}) {}

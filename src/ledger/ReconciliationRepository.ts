import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AssetCode } from "../domain/Asset.ts"
import { MismatchedWallet, MismatchedWalletsListed } from "../domain/Reconciliation.ts"

const AssetFiguresRow = Schema.Struct({
  assetCode: AssetCode,
  sumOfBalances: Schema.Number,
  wallets: Schema.Number,
  transactions: Schema.Number,
  mismatchedWalletCount: Schema.Number,
  mismatchedWallets: Schema.Array(MismatchedWallet),
  held: Schema.Number,
  escrowBalance: Schema.Number,
  issued: Schema.Number,
  outstanding: Schema.Number,
  checkedAt: Schema.DateFromSelf
})
export type AssetFiguresRow = typeof AssetFiguresRow.Type

/**
 * The whole ledger checked against its wallets, per asset. Columns are named in camelCase here,
 * as the domain reads them.
 */
export class ReconciliationRepository extends Effect.Service<ReconciliationRepository>()("ReconciliationRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * One statement, so one snapshot: balances and entries are compared as of the same moment
     * while writes go on. One pass over the entries (a hash aggregate by wallet); the sums are
     * numeric so that no total can overflow, and only a broken ledger makes them exceed 2^53.
     */
    const figures = SqlSchema.findAll({
      Request: Schema.Void,
      Result: AssetFiguresRow,
      execute: () =>
        sql`
          WITH nets AS (
            SELECT wallet_id, sum(CASE entry_type WHEN 'CREDIT' THEN amount ELSE -amount END) AS net
              FROM ledger_entries GROUP BY wallet_id
          ), checked AS (
            SELECT w.id, w.asset_code, w.balance, coalesce(n.net, 0) AS net, u.role
              FROM wallets w JOIN users u ON u.id = w.user_id LEFT JOIN nets n ON n.wallet_id = w.id
          ), counted AS (
            -- A multi-leg transaction (or its reversal) has no asset of its own: it counts once for
            -- each asset its legs move, read from its entries (only those transactions' entries are read).
            SELECT asset_code, sum(n) AS transactions FROM (
              SELECT asset_code, count(*) AS n FROM transactions WHERE asset_code IS NOT NULL GROUP BY asset_code
              UNION ALL
              SELECT e.asset_code, count(DISTINCT e.transaction_id) AS n
                FROM transactions t JOIN ledger_entries e ON e.transaction_id = t.id
               WHERE t.asset_code IS NULL
               GROUP BY e.asset_code
            ) per_kind
            GROUP BY asset_code
          ), held AS (
            SELECT asset_code, sum(amount) AS held FROM holds WHERE status = 'HELD' GROUP BY asset_code
          ), escrow AS (
            SELECT w.asset_code, w.balance FROM wallets w JOIN users u ON u.id = w.user_id
             WHERE u.role = 'ESCROW'
          )
          SELECT a.code AS "assetCode",
                 coalesce(sum(c.balance), 0)::float8 AS "sumOfBalances",
                 count(c.id)::int AS "wallets",
                 coalesce(max(t.transactions), 0)::int AS "transactions",
                 (count(*) FILTER (WHERE c.balance <> c.net))::int AS "mismatchedWalletCount",
                 coalesce(to_json((array_agg(json_build_object('walletId', c.id, 'balance', c.balance, 'entriesNet', c.net)
                                             ORDER BY c.id) FILTER (WHERE c.balance <> c.net))[1:${MismatchedWalletsListed}]),
                          '[]'::json) AS "mismatchedWallets",
                 coalesce(max(h.held), 0)::float8 AS "held",
                 coalesce(max(x.balance), 0)::float8 AS "escrowBalance",
                 (-coalesce(sum(c.net) FILTER (WHERE c.role = 'TREASURY'), 0))::float8 AS "issued",
                 coalesce(sum(c.balance) FILTER (WHERE c.role <> 'TREASURY'), 0)::float8 AS "outstanding",
                 now() AS "checkedAt"
            FROM assets a
            LEFT JOIN checked c ON c.asset_code = a.code
            LEFT JOIN counted t ON t.asset_code = a.code
            LEFT JOIN held h ON h.asset_code = a.code
            LEFT JOIN escrow x ON x.asset_code = a.code
           GROUP BY a.code
           ORDER BY a.code`
    })

    /**
     * Read-only, under its own statement timeout: on a ledger too large to check within it, the
     * database cancels the statement (a 503) instead of holding a connection for minutes.
     */
    const reconcile = (timeout: Duration.Duration) =>
      sql.withTransaction(
        Effect.zipRight(
          sql`SELECT set_config('statement_timeout', ${String(Duration.toMillis(timeout))}, true)`.pipe(
            Effect.zipRight(sql`SET TRANSACTION READ ONLY`)
          ),
          figures(undefined)
        )
      )

    return { reconcile: (timeout: Duration.Duration) => Effect.orDie(reconcile(timeout)) } as const
  })
}) {}

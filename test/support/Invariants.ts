import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * The ledger's invariants, read straight from the database. Each query returns the rows that
 * break a rule, so an empty result is a pass and a failure names the culprits.
 */
export const ledgerViolations = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const unbalancedAssets = yield* sql<{ assetCode: string; total: string }>`
    SELECT asset_code, sum(balance)::text AS total FROM wallets GROUP BY asset_code HAVING sum(balance) <> 0`
  const walletsOffLedger = yield* sql<{ id: number; balance: number; ledger: string }>`
    SELECT w.id, w.balance,
           coalesce(sum(CASE e.entry_type WHEN 'CREDIT' THEN e.amount ELSE -e.amount END), 0)::text AS ledger
      FROM wallets w LEFT JOIN ledger_entries e ON e.wallet_id = w.id
     GROUP BY w.id
    HAVING w.balance <> coalesce(sum(CASE e.entry_type WHEN 'CREDIT' THEN e.amount ELSE -e.amount END), 0)`
  /** A player's floor is minus its asset's max_debt (0 unless the asset allows debt). */
  const userWalletsBelowFloor = yield* sql<{ id: number; balance: number }>`
    SELECT w.id, w.balance FROM wallets w JOIN assets a ON a.code = w.asset_code
     WHERE w.owner_kind = 'USER' AND w.balance < -a.max_debt`
  /** A transaction of one asset is one leg of its asset and amount; a multi-leg one has legs. */
  const badTransactions = yield* sql<{ id: string; entries: number }>`
    SELECT t.id, count(e.id)::int AS entries
      FROM transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
     GROUP BY t.id
    HAVING count(e.id) < 2
        OR (t.asset_code IS NOT NULL AND count(e.id) <> 2)
        OR bool_or(t.asset_code IS NOT NULL AND (e.amount <> t.amount OR e.asset_code <> t.asset_code))`
  /** Every leg is one DEBIT and one CREDIT of one asset and amount between two wallets. */
  const badLegs = yield* sql<{ transactionId: string; legIndex: number }>`
    SELECT transaction_id, leg_index FROM ledger_entries
     GROUP BY transaction_id, leg_index
    HAVING count(*) <> 2 OR count(DISTINCT entry_type) <> 2 OR count(DISTINCT amount) <> 1
        OR count(DISTINCT asset_code) <> 1 OR count(DISTINCT wallet_id) <> 2`
  /** Per transaction and asset, the debits equal the credits. */
  const unbalancedTransactions = yield* sql<{ transactionId: string; assetCode: string }>`
    SELECT transaction_id, asset_code FROM ledger_entries
     GROUP BY transaction_id, asset_code
    HAVING sum(CASE entry_type WHEN 'DEBIT' THEN amount ELSE -amount END) <> 0`
  /** The last entry of each wallet carries its balance. */
  const staleBalanceAfter = yield* sql<{ id: number }>`
    SELECT w.id FROM wallets w
      JOIN LATERAL (SELECT balance_after FROM ledger_entries e WHERE e.wallet_id = w.id ORDER BY e.id DESC LIMIT 1) last ON TRUE
     WHERE last.balance_after <> w.balance`
  /** The escrow's balance of each asset is what the active holds keep of it. */
  const heldOffEscrow = yield* sql<{ assetCode: string; held: string; escrow: string }>`
    SELECT a.code AS asset_code, coalesce(h.held, 0)::text AS held, coalesce(w.balance, 0)::text AS escrow
      FROM assets a
      LEFT JOIN (SELECT asset_code, sum(amount) AS held FROM holds WHERE status = 'HELD' GROUP BY asset_code) h ON h.asset_code = a.code
      LEFT JOIN (SELECT w.asset_code, w.balance FROM wallets w JOIN users u ON u.id = w.user_id
                  WHERE u.role = 'ESCROW') w ON w.asset_code = a.code
     WHERE coalesce(h.held, 0) <> coalesce(w.balance, 0)`
  /** Every system account is a side only of its own operations (migration 0015's table). */
  const systemSidesBroken = yield* sql<{ transactionId: string; role: string }>`
    SELECT e.transaction_id, u.role FROM ledger_entries e
      JOIN transactions t ON t.id = e.transaction_id
      JOIN wallets w ON w.id = e.wallet_id
      JOIN users u ON u.id = w.user_id
     WHERE NOT ledger_system_side_allowed(u.role, t.type, e.entry_type)`
  return { systemSidesBroken, heldOffEscrow, unbalancedAssets, walletsOffLedger, userWalletsBelowFloor, badTransactions, badLegs, unbalancedTransactions, staleBalanceAfter }
})

export const noViolations = {
  systemSidesBroken: [],
  heldOffEscrow: [],
  unbalancedAssets: [],
  walletsOffLedger: [],
  userWalletsBelowFloor: [],
  badTransactions: [],
  badLegs: [],
  unbalancedTransactions: [],
  staleBalanceAfter: []
}

export const balanceOf = (userId: number, assetCode: string) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) =>
    sql<{ balance: number }>`SELECT balance FROM wallets WHERE user_id = ${userId} AND asset_code = ${assetCode}`.pipe(
      Effect.map((rows) => rows[0]?.balance ?? 0)
    ))

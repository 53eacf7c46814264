import pg from "pg"

/**
 * The ledger's invariants after the load, read directly from the database. Each check is a
 * query for the rows that break a rule, so it can fail and names what broke.
 */
export interface InvariantCheck {
  readonly name: string
  readonly ok: boolean
}

/** `expectedWrites`: the writes the bench saw applied (fresh 201s of every write endpoint, bulk items included). */
export const checkInvariants = async (databaseUrl: string, expectedWrites: number): Promise<ReadonlyArray<InvariantCheck>> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  const violations = async (sql: string) => (await client.query(sql)).rowCount ?? 0
  const hasLegs = async () =>
    ((await client.query(
      `SELECT 1 FROM information_schema.columns WHERE table_name = 'ledger_entries' AND column_name = 'leg_index'`
    )).rowCount ?? 0) > 0
  try {
    const checks: Array<[string, number]> = [
      ["per asset the balances sum to zero", await violations(
        `SELECT asset_code FROM wallets GROUP BY asset_code HAVING sum(balance) <> 0`
      )],
      ["every balance equals its credits minus its debits", await violations(
        `SELECT w.id FROM wallets w LEFT JOIN ledger_entries e ON e.wallet_id = w.id GROUP BY w.id
         HAVING w.balance <> coalesce(sum(CASE e.entry_type WHEN 'CREDIT' THEN e.amount ELSE -e.amount END), 0)`
      )],
      ["no user wallet is negative", await violations(
        `SELECT id FROM wallets WHERE owner_kind = 'USER' AND balance < 0`
      )],
      // A baseline from before ledger v2 (BENCH_BASELINE) has no legs: one DEBIT and one CREDIT per transaction.
      (await hasLegs())
        ? ["every leg is one DEBIT and one CREDIT of one asset and amount", await violations(
          `SELECT transaction_id FROM ledger_entries GROUP BY transaction_id, leg_index
           HAVING count(*) <> 2 OR count(DISTINCT entry_type) <> 2 OR count(DISTINCT amount) <> 1 OR count(DISTINCT asset_code) <> 1`
        )]
        : ["every transaction has one DEBIT and one CREDIT", await violations(
          `SELECT transaction_id FROM ledger_entries GROUP BY transaction_id
           HAVING count(*) <> 2 OR count(DISTINCT entry_type) <> 2 OR count(DISTINCT amount) <> 1`
        )],
      ["every one-asset transaction is one leg of its amount", await violations(
        `SELECT t.id FROM transactions t JOIN ledger_entries e ON e.transaction_id = t.id WHERE t.asset_code IS NOT NULL GROUP BY t.id
         HAVING count(*) <> 2 OR bool_or(e.amount <> t.amount)`
      )]
    ]
    const written = Number((await client.query(`SELECT count(*)::int AS n FROM transactions WHERE type <> 'GENESIS'`)).rows[0].n)
    checks.push([`one transaction per 201 answered (${expectedWrites} answered, ${written} written)`, written === expectedWrites ? 0 : 1])
    return checks.map(([name, broken]) => ({ name, ok: broken === 0 }))
  } finally {
    await client.end()
  }
}

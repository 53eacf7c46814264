import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import pg from "pg"
import { DatabaseUrl, PgLive } from "../../src/Sql.ts"
import { ledgerViolations } from "./Invariants.ts"
import type { WriteResult } from "./RetryingClient.ts"

/**
 * Whether every write of a run applied exactly once, read from the ledger after the run.
 *
 * A transaction row does not name its idempotency key: only the key's record names its
 * transaction, and a write applied twice under one key would leave the record naming one of the
 * two and the other unnamed. So the fault suites send each write with its key as its description,
 * and the check counts transactions per description (a duplicate is a second transaction with the
 * key's description), and, whatever the descriptions say, counts the transactions no record names
 * (orphans: every write of these suites goes through a key, so there must be none). A write is
 * lost when its 201 named a transaction the ledger does not hold, or that its key's record does
 * not name, or when its 409 left no INSUFFICIENT_FUNDS record.
 */

interface Receipt {
  readonly transactionId: string
  readonly type: string
  readonly userId: number
  readonly assetCode: string
  readonly amount: number
}

export interface ExactlyOnceReport {
  /** Acknowledged outcomes the ledger does not hold. */
  readonly lost: ReadonlyArray<{ readonly key: string; readonly why: string }>
  /** Transactions beyond the first for a key, and transactions no key's record names. */
  readonly duplicated: ReadonlyArray<{ readonly key: string | null; readonly transactionIds: ReadonlyArray<string> }>
  /** Final answers other than 201 and 409 (a 4xx that only a bug could cause). */
  readonly unexpected: ReadonlyArray<{ readonly key: string; readonly status: number; readonly body: unknown }>
  /** Balances that differ from the opening ones plus what the receipts applied. */
  readonly balanceMismatches: ReadonlyArray<{ readonly account: string; readonly expected: number; readonly actual: number }>
}

export const exactlyOnceReport = async (
  databaseUrl: string,
  results: ReadonlyArray<WriteResult>,
  opening: ReadonlyMap<string, number>
): Promise<ExactlyOnceReport> => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const keys = results.map((r) => r.write.idempotencyKey)
    const transactions = (await client.query<{ description: string; ids: Array<string> }>(
      `SELECT description, array_agg(id::text ORDER BY id) AS ids FROM transactions
        WHERE description = ANY($1::varchar[]) GROUP BY description`,
      [keys]
    )).rows
    const transactionsByKey = new Map(transactions.map((row) => [row.description, row.ids]))
    const records = (await client.query<{ key: string; outcome: string | null; transaction_id: string | null }>(
      `SELECT key, outcome, transaction_id::text AS transaction_id FROM idempotency_records WHERE key = ANY($1::varchar[])`,
      [keys]
    )).rows
    const recordByKey = new Map(records.map((row) => [row.key, row]))
    const orphans = (await client.query<{ id: string; description: string | null }>(
      `SELECT t.id::text AS id, t.description FROM transactions t
        WHERE t.type <> 'GENESIS'
          AND NOT EXISTS (SELECT 1 FROM idempotency_records r WHERE r.transaction_id = t.id)`
    )).rows

    const lost: Array<{ key: string; why: string }> = []
    const duplicated: Array<{ key: string | null; transactionIds: ReadonlyArray<string> }> = []
    const unexpected: Array<{ key: string; status: number; body: unknown }> = []
    for (const result of results) {
      const key = result.write.idempotencyKey
      const ids = transactionsByKey.get(key) ?? []
      const record = recordByKey.get(key)
      if (ids.length > 1) {
        // The extras: every transaction but the one the key's record names (or the first).
        const named = record?.transaction_id ?? undefined
        const kept = named !== undefined && ids.includes(named) ? named : ids[0]
        duplicated.push({ key, transactionIds: ids.filter((id) => id !== kept) })
      }
      const final = result.final
      if (final === undefined) continue
      if (final.status === 201) {
        const receipt = final.body as Receipt
        if (!ids.includes(receipt.transactionId)) lost.push({ key, why: `201 named ${receipt.transactionId}, not in the ledger` })
        else if (record?.outcome !== "APPLIED" || record.transaction_id !== receipt.transactionId) {
          lost.push({ key, why: `201 named ${receipt.transactionId}, the key's record says ${JSON.stringify(record)}` })
        }
      } else if (final.status === 409) {
        if (ids.length > 0) lost.push({ key, why: `409, yet transactions ${ids.join(", ")} carry the key` })
        else if (record?.outcome !== "INSUFFICIENT_FUNDS") lost.push({ key, why: `409, the key's record says ${JSON.stringify(record)}` })
      } else {
        unexpected.push({ key, status: final.status, body: final.body })
      }
    }
    // An orphan carrying a key that has more than one transaction was counted above.
    const counted = new Set(Array.from(transactionsByKey.values()).flatMap((ids) => ids.length > 1 ? ids : []))
    for (const orphan of orphans) {
      if (!counted.has(orphan.id)) duplicated.push({ key: orphan.description, transactionIds: [orphan.id] })
    }

    const expected = new Map(opening)
    for (const result of results) {
      if (result.final?.status !== 201) continue
      const receipt = result.final.body as Receipt
      const account = `${receipt.userId}/${receipt.assetCode}`
      expected.set(account, (expected.get(account) ?? 0) + (receipt.type === "SPEND" ? -receipt.amount : receipt.amount))
    }
    const actual = await balances(client, [...opening.keys()])
    const balanceMismatches = Array.from(expected).flatMap(([account, value]) =>
      actual.get(account) === value ? [] : [{ account, expected: value, actual: actual.get(account) ?? 0 }]
    )
    return { lost, duplicated, unexpected, balanceMismatches }
  } finally {
    await client.end()
  }
}

const balances = async (client: pg.Client, accounts: ReadonlyArray<string>) => {
  const rows = (await client.query<{ account: string; balance: string }>(
    `SELECT user_id || '/' || asset_code AS account, balance::text AS balance FROM wallets
      WHERE user_id || '/' || asset_code = ANY($1::text[])`,
    [accounts]
  )).rows
  return new Map(rows.map((row) => [row.account, Number(row.balance)]))
}

/** The balances of the given players' wallets (`userId/assetCode` to balance), e.g. before a run. */
export const balancesOf = async (databaseUrl: string, userIds: ReadonlyArray<number>, assetCodes: ReadonlyArray<string>) => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    return await balances(client, userIds.flatMap((userId) => assetCodes.map((assetCode) => `${userId}/${assetCode}`)))
  } finally {
    await client.end()
  }
}

/** The ledger's invariants (test/support/Invariants.ts) over the database at `databaseUrl`. */
export const invariantViolations = async (databaseUrl: string) => {
  const runtime = ManagedRuntime.make(PgLive.pipe(Layer.provide(Layer.succeed(DatabaseUrl, Redacted.make(databaseUrl)))))
  try {
    return await runtime.runPromise(ledgerViolations)
  } finally {
    await runtime.dispose()
  }
}

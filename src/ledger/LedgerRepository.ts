import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import type { ApiKeyId } from "../domain/ApiKey.ts"
import { AccountRole } from "../domain/AccountRules.ts"
import { AssetCode } from "../domain/Asset.ts"
import type { HoldId } from "../domain/Hold.ts"
import { Balance } from "../domain/Money.ts"
import { HistoryItem } from "../domain/History.ts"
import type { IdempotencyKey } from "../domain/Idempotency.ts"
import type { Metadata } from "../domain/Metadata.ts"
import { WalletId } from "../domain/Posting.ts"
import { TransactionId, TransactionType } from "../domain/Transaction.ts"
import { TreasuryUserId, UserId, UserKind } from "../domain/User.ts"
import { type IdempotencyRecord, StoredOutcome } from "../domain/Write.ts"
import { HoldRow as StoredHoldRow } from "./HoldRepository.ts"

/** Who and what a write is about, as the database knows them; null where it does not. */
const AccountRow = Schema.Struct({
  userId: UserId,
  assetCode: AssetCode,
  userKind: Schema.NullOr(UserKind),
  /** What the user is to the ledger (domain/AccountRules.ts); null when it does not exist. */
  userRole: Schema.NullOr(AccountRole),
  assetExists: Schema.Boolean,
  walletId: Schema.NullOr(WalletId),
  treasuryWalletId: Schema.NullOr(WalletId),
  /** The escrow that holds every hold's amount, and its wallet of the asset. */
  escrowUserId: Schema.NullOr(UserId),
  escrowWalletId: Schema.NullOr(WalletId)
})
export type AccountRow = typeof AccountRow.Type

/** A hold as the batch sees it, locked; with the escrow's user id, the payer of its settlement. */
const HoldRow = Schema.Struct({ ...StoredHoldRow.fields, escrowUserId: UserId })
export type HoldRow = typeof HoldRow.Type

const WalletRow = Schema.Struct({
  id: WalletId,
  userId: UserId,
  ownerKind: UserKind,
  balance: Schema.Number,
  maxDebt: Schema.Number
})

/** One leg of a transaction to reverse, with both sides' wallets and owners. */
const OriginalLegRow = Schema.Struct({
  transactionId: TransactionId,
  type: TransactionType,
  /** The transaction's own amount; null for a multi-leg transaction. */
  transactionAmount: Schema.NullOr(Schema.Number),
  legIndex: Schema.Number,
  assetCode: AssetCode,
  amount: Schema.Number,
  debitWalletId: WalletId,
  debitUserId: UserId,
  debitRole: AccountRole,
  creditWalletId: WalletId,
  creditUserId: UserId,
  creditRole: AccountRole
})
export type OriginalLegRow = typeof OriginalLegRow.Type

const StoredRecordRow = Schema.Struct({
  key: Schema.String,
  fingerprint: Schema.String,
  outcome: StoredOutcome,
  responseBody: Schema.Unknown,
  requestId: Schema.NullOr(Schema.String)
})

/** One leg of a transaction: its DEBIT and CREDIT entries, with the balances right after it. */
export interface LegRow {
  readonly assetCode: AssetCode
  readonly amount: number
  readonly debitWalletId: WalletId
  readonly debitBalanceAfter: number
  readonly creditWalletId: WalletId
  readonly creditBalanceAfter: number
}

/**
 * A transaction of a batch with its legs, ready to be written. A transaction of one asset
 * (every type but TRANSACTION) keeps it and its amount; a multi-leg one has null for both.
 */
export interface TransactionRow {
  readonly id: TransactionId
  readonly type: Exclude<TransactionType, "GENESIS">
  readonly assetCode: AssetCode | null
  readonly amount: number | null
  readonly description: string | null
  readonly metadata: Metadata
  readonly legs: ReadonlyArray<LegRow>
  /** The API key that wrote it; null for ADMIN_API_KEY and AUTH_DISABLED. */
  readonly createdBy: ApiKeyId | null
  /** The transaction a reversal reverses; null for every other type. */
  readonly reverses: TransactionId | null
}

/** The outcome to keep under a key claimed by this batch. */
export interface KeyRecord {
  readonly key: IdempotencyKey
  /** The fingerprint of the command that decided: not always the one that claimed the key. */
  readonly fingerprint: string
  readonly requestId: string | null
  readonly outcome: StoredOutcome
  readonly responseBody: unknown
  readonly transactionId: TransactionId | null
}

/** Everything one batch writes, in one statement. */
export interface BatchWrites {
  /** Holds opened by the batch, and holds it settled (as they stand after it). */
  readonly newHolds: ReadonlyArray<HoldRow>
  readonly settled: ReadonlyArray<HoldRow>
  readonly transactions: ReadonlyArray<TransactionRow>
  readonly balances: ReadonlyMap<WalletId, number>
  readonly records: ReadonlyArray<KeyRecord>
  /** Keys claimed by the batch whose requests ended without a stored outcome (404, 422 SYSTEM_ACCOUNT). */
  readonly freedKeys: ReadonlyArray<IdempotencyKey>
}

/**
 * A row of a batched read: which read of the batch (1-based, in the order given) it answers.
 *
 * The batched reads' rows are not decoded here. Every field reaches the client only through
 * the contract's encoding of the response, which checks it against the same field schemas (a
 * row they refuse is a 500, as a failed decode here was); decoding the rows first checked each
 * value twice, and for a history page of 20 the first check cost about 100 µs of CPU.
 */
interface ReadIndex {
  readonly read: number
}

/** A history row, its columns named as the statement names them. */
export type HistoryRow = Schema.Struct.Type<typeof HistoryItem.fields> & ReadIndex & { readonly id: number }

/** Balances at a time, decoded (a rare read, run alone); the batched balances are typed as this, not decoded. */
const BalanceRow = Schema.Struct({ assetCode: AssetCode, balance: Balance, held: Schema.Int })
export type BalanceRow = typeof BalanceRow.Type

/** What a history read runs with: the page asked for, its defaults applied. */
export interface HistoryRequest {
  readonly userId: number
  readonly limit: number
  readonly offset: number
  readonly assetCode: string | undefined
  readonly cursor: number | undefined
}

export interface BalancesRequest {
  readonly userId: number
  readonly assetCode: string | undefined
}

/**
 * The only module that speaks SQL. Infrastructure failures become defects here, so the
 * services above see domain outcomes only; every function expects to run inside the caller's
 * transaction where it writes.
 *
 * Every statement names its result columns in camelCase itself (`AS "assetCode"`) and runs
 * `withoutTransform`: the client's snake_case-to-camelCase transform of every key of every row
 * cost more CPU than the rest of the row's decoding (bench/README.md, "Where the CPU goes").
 * No statement here builds an identifier from a name, so the transform of query names had
 * nothing to do. Each SqlSchema query is built once, not per call: building one compiles its
 * row decoder again.
 */
export class LedgerRepository extends Effect.Service<LedgerRepository>()("LedgerRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * Claims every key of a batch in one statement. Keys come sorted, so that two batches
     * (in two processes) claiming overlapping keys take them in the same order and queue
     * rather than deadlock. A key held by a transaction in flight blocks until it ends: then
     * it is this batch's (the other rolled back) or already used (the other committed).
     * Returns the keys this batch now holds, and the database transaction's start time, which
     * every row it writes carries as created_at.
     */
    const claimKeys = (claims: ReadonlyArray<{ readonly key: IdempotencyKey; readonly fingerprint: string }>) =>
      sql<{ key: IdempotencyKey; createdAt: Date }>`
        INSERT INTO idempotency_records (key, fingerprint)
        SELECT key, fingerprint FROM unnest(${claims.map((c) => c.key)}::varchar[], ${claims.map((c) => c.fingerprint)}::char(64)[])
               AS claim (key, fingerprint)
        -- Not DO NOTHING: a WHERE false update still locks the used key's row until COMMIT,
        -- so the retention pruner (SKIP LOCKED) cannot delete it before storedRecords reads it.
        ON CONFLICT (key) DO UPDATE SET key = EXCLUDED.key WHERE false
        RETURNING key, created_at AS "createdAt"`.withoutTransform.pipe(
        Effect.map((rows) => ({ keys: new Set(rows.map((row) => row.key)), createdAt: rows[0]?.createdAt }))
      )

    /** The stored outcomes of keys already used, by key. */
    const findStoredRecords = SqlSchema.findAll({
      Request: Schema.Array(Schema.String),
      Result: StoredRecordRow,
      execute: (keys) =>
        sql`
          SELECT key, fingerprint, outcome, response_body AS "responseBody", request_id AS "requestId"
            FROM idempotency_records WHERE key = ANY(${keys}::varchar[])`.withoutTransform
    })
    const storedRecords = (keys: ReadonlyArray<IdempotencyKey>) =>
      findStoredRecords(keys).pipe(
        Effect.map((rows) =>
          new Map(rows.map((row): [string, IdempotencyRecord] => [row.key, row]))
        )
      )

    /** One row per (user, asset) asked for: the user's kind, whether the asset exists, both wallets. */
    const findAccounts = SqlSchema.findAll({
      Request: Schema.Array(Schema.Struct({ userId: Schema.Number, assetCode: Schema.String })),
      Result: AccountRow,
      execute: (accounts) =>
        sql`
          SELECT r.user_id AS "userId", r.asset_code AS "assetCode", u.kind AS "userKind", u.role AS "userRole",
                 a.code IS NOT NULL AS "assetExists", w.id AS "walletId", t.id AS "treasuryWalletId",
                 e.id AS "escrowUserId", ew.id AS "escrowWalletId"
            FROM unnest(${accounts.map((a) => a.userId)}::bigint[], ${accounts.map((a) => a.assetCode)}::varchar[])
                 AS r (user_id, asset_code)
            LEFT JOIN users u ON u.id = r.user_id
            LEFT JOIN assets a ON a.code = r.asset_code
            LEFT JOIN wallets w ON w.user_id = u.id AND w.asset_code = a.code
            LEFT JOIN wallets t ON t.user_id = ${TreasuryUserId} AND t.asset_code = a.code
            LEFT JOIN users e ON e.role = 'ESCROW'
            LEFT JOIN wallets ew ON ew.user_id = e.id AND ew.asset_code = a.code`.withoutTransform
    })

    /**
     * Wallets are opened with the user for every asset that exists then; an asset added later
     * gets its wallets on first use. ON CONFLICT makes a concurrent opening harmless.
     */
    const openWallets = (
      wallets: ReadonlyArray<{ readonly userId: UserId; readonly ownerKind: UserKind; readonly assetCode: AssetCode }>
    ) =>
      sql`
        INSERT INTO wallets (user_id, owner_kind, asset_code)
        SELECT * FROM unnest(${wallets.map((w) => w.userId)}::bigint[], ${wallets.map((w) => w.ownerKind)}::varchar[],
                             ${wallets.map((w) => w.assetCode)}::varchar[])
        ON CONFLICT (user_id, asset_code) DO NOTHING`.withoutTransform.pipe(Effect.asVoid)

    const lockWallets = SqlSchema.findAll({
      Request: Schema.Array(Schema.Number),
      Result: WalletRow,
      // Every writer locks its wallets in ascending id order, so two writers over the same
      // wallets (every topup touches the treasury) queue behind each other but never deadlock.
      execute: (ids) =>
        sql`
          SELECT id, user_id AS "userId", owner_kind AS "ownerKind", balance, max_debt AS "maxDebt"
            FROM wallets WHERE id = ANY(${ids}::bigint[]) ORDER BY id FOR UPDATE`.withoutTransform
    })

    /**
     * The holds a batch settles, locked in ascending id order (before any wallet, by every
     * batch): a capture, a void and an expiry of one hold queue on its row, and each sees the
     * row as the one before it left it.
     */
    const lockHolds = SqlSchema.findAll({
      Request: Schema.Array(Schema.String),
      Result: HoldRow,
      execute: (ids) =>
        sql`
          SELECT h.id, h.user_id AS "userId", h.asset_code AS "assetCode", h.amount, h.captured_amount AS "capturedAmount",
                 h.status, h.expires_at AS "expiresAt", h.created_at AS "createdAt",
                 h.hold_transaction_id AS "holdTransactionId", h.settlement_transaction_id AS "settlementTransactionId",
                 h.settled_at AS "settledAt",
                 (SELECT e.id FROM users e WHERE e.role = 'ESCROW') AS "escrowUserId"
            FROM holds h WHERE h.id = ANY(${ids}::uuid[]) ORDER BY h.id FOR UPDATE OF h`.withoutTransform
    })

    /** The database transaction's start time, which every row a batch writes carries. */
    const transactionTime = sql<{ now: Date }>`SELECT now() AS now`.withoutTransform.pipe(Effect.map((rows) => rows[0]!.now))

    /**
     * The legs of transactions to reverse, each with its DEBIT and CREDIT wallets, in leg
     * order. Entries never change, so they are read without a lock; what is already reversed
     * is read by reversedAmounts once the wallets are locked.
     */
    const findOriginals = SqlSchema.findAll({
      Request: Schema.Array(Schema.String),
      Result: OriginalLegRow,
      execute: (ids) =>
        sql`
          SELECT t.id AS "transactionId", t.type, t.amount AS "transactionAmount", d.leg_index AS "legIndex",
                 d.asset_code AS "assetCode", d.amount,
                 d.wallet_id AS "debitWalletId", dw.user_id AS "debitUserId", du.role AS "debitRole",
                 c.wallet_id AS "creditWalletId", cw.user_id AS "creditUserId", cu.role AS "creditRole"
            FROM transactions t
            JOIN ledger_entries d ON d.transaction_id = t.id AND d.entry_type = 'DEBIT'
            JOIN ledger_entries c ON c.transaction_id = t.id AND c.leg_index = d.leg_index AND c.entry_type = 'CREDIT'
            JOIN wallets dw ON dw.id = d.wallet_id
            JOIN users du ON du.id = dw.user_id
            JOIN wallets cw ON cw.id = c.wallet_id
            JOIN users cu ON cu.id = cw.user_id
           WHERE t.id = ANY(${ids}::uuid[])
           ORDER BY t.id, d.leg_index`.withoutTransform
    })

    /**
     * How much of each transaction is reversed, by id (absent: nothing). Read after the
     * wallets are locked: every reversal of a transaction locks the same wallets (its
     * original's), so this sees every reversal committed before this batch's.
     */
    const findReversedAmounts = SqlSchema.findAll({
      Request: Schema.Array(Schema.String),
      Result: Schema.Struct({ transactionId: TransactionId, reversed: Schema.Number }),
      execute: (ids) =>
        sql`
          SELECT transaction_id AS "transactionId", reversed
            FROM transaction_reversals WHERE transaction_id = ANY(${ids}::uuid[])`.withoutTransform
    })
    const reversedAmounts = (ids: ReadonlyArray<TransactionId>) =>
      findReversedAmounts(ids).pipe(Effect.map((rows) => new Map(rows.map((row) => [row.transactionId, row.reversed]))))

    /**
     * One statement for everything a batch writes: its transactions, their legs' DEBIT and
     * CREDIT entries (in posting order, so each wallet's last entry carries its balance), the
     * wallets' new balances, the outcome under each claimed key, and the release of keys whose
     * request stored nothing, and an outbox event per transaction. A failure writes nothing,
     * and the wallet locks wait on one round trip. Arrays travel as parameters, so the
     * statement's text is the same for every batch size and every number of legs.
     */
    const writeBatch = (batch: BatchWrites) => {
      const txs = batch.transactions
      const entryColumns = {
        transactionId: txs.flatMap((t) => t.legs.flatMap(() => [t.id, t.id])),
        legIndex: txs.flatMap((t) => t.legs.flatMap((_, i) => [i, i])),
        walletId: txs.flatMap((t) => t.legs.flatMap((leg) => [leg.debitWalletId, leg.creditWalletId])),
        assetCode: txs.flatMap((t) => t.legs.flatMap((leg) => [leg.assetCode, leg.assetCode])),
        entryType: txs.flatMap((t) => t.legs.flatMap(() => ["DEBIT", "CREDIT"])),
        amount: txs.flatMap((t) => t.legs.flatMap((leg) => [leg.amount, leg.amount])),
        balanceAfter: txs.flatMap((t) => t.legs.flatMap((leg) => [leg.debitBalanceAfter, leg.creditBalanceAfter]))
      }
      const balances = Array.from(batch.balances)
      const { newHolds, settled } = batch
      // The stored bodies travel as one JSON array, the n-th element for the n-th record: as a
      // text[] each body went through pg's array-literal escaping, quote by quote, which cost
      // more CPU than the rest of the statement. A json value keeps its text as written, and
      // each element is exactly JSON.stringify of its body, so a replay is the same bytes.
      const responseBodies = JSON.stringify(batch.records.map((r) => r.responseBody))
      return sql<{ createdAt: Date }>`
        WITH inserted AS (
          INSERT INTO transactions (id, type, asset_code, amount, description, metadata, created_by, reverses)
          SELECT id, type, asset_code, amount, description, metadata::jsonb, created_by, reverses
            FROM unnest(${txs.map((t) => t.id)}::uuid[], ${txs.map((t) => t.type)}::varchar[],
                        ${txs.map((t) => t.assetCode)}::varchar[], ${txs.map((t) => t.amount)}::bigint[],
                        ${txs.map((t) => t.description)}::varchar[], ${txs.map((t) => JSON.stringify(t.metadata))}::text[],
                        ${txs.map((t) => t.createdBy)}::uuid[], ${txs.map((t) => t.reverses)}::uuid[])
                 AS t (id, type, asset_code, amount, description, metadata, created_by, reverses)
          RETURNING id
        ), outbox AS (
          -- The transactional outbox (migrations/0040_events.sql): one event per transaction,
          -- committed or rolled back with it; the sequencer numbers it after the commit.
          INSERT INTO events (type, transaction_id) SELECT 'transaction.posted', id FROM inserted
        ), entries AS (
          INSERT INTO ledger_entries (transaction_id, leg_index, wallet_id, asset_code, entry_type, amount, balance_after)
          SELECT * FROM unnest(${entryColumns.transactionId}::uuid[], ${entryColumns.legIndex}::smallint[],
                               ${entryColumns.walletId}::bigint[],
                               ${entryColumns.assetCode}::varchar[], ${entryColumns.entryType}::varchar[],
                               ${entryColumns.amount}::bigint[], ${entryColumns.balanceAfter}::bigint[])
        ), balances AS (
          UPDATE wallets SET balance = b.balance, updated_at = now()
            FROM unnest(${balances.map(([id]) => id)}::bigint[], ${balances.map(([, balance]) => balance)}::bigint[])
                 AS b (id, balance)
           WHERE wallets.id = b.id
        ), recorded AS (
          UPDATE idempotency_records
             SET fingerprint = r.fingerprint, outcome = r.outcome, response_body = body.value,
                 transaction_id = r.transaction_id, request_id = r.request_id
            FROM unnest(${batch.records.map((r) => r.key)}::varchar[], ${batch.records.map((r) => r.fingerprint)}::char(64)[],
                        ${batch.records.map((r) => r.outcome)}::varchar[],
                        ${batch.records.map((r) => r.transactionId)}::uuid[],
                        ${batch.records.map((r) => r.requestId)}::varchar[])
                 WITH ORDINALITY AS r (key, fingerprint, outcome, transaction_id, request_id, n)
            JOIN json_array_elements(${responseBodies}::json) WITH ORDINALITY AS body (value, n) ON body.n = r.n
           WHERE idempotency_records.key = r.key
        ), freed AS (
          DELETE FROM idempotency_records WHERE key = ANY(${batch.freedKeys}::varchar[])
        ), held AS (
          INSERT INTO holds (id, user_id, asset_code, amount, status, expires_at, created_at, hold_transaction_id)
          SELECT id, user_id, asset_code, amount, 'HELD', expires_at, created_at, hold_transaction_id
            FROM unnest(${newHolds.map((h) => h.id)}::uuid[], ${newHolds.map((h) => h.userId)}::bigint[],
                        ${newHolds.map((h) => h.assetCode)}::varchar[], ${newHolds.map((h) => h.amount)}::bigint[],
                        ${newHolds.map((h) => h.expiresAt)}::timestamptz[], ${newHolds.map((h) => h.createdAt)}::timestamptz[],
                        ${newHolds.map((h) => h.holdTransactionId)}::uuid[])
                 AS h (id, user_id, asset_code, amount, expires_at, created_at, hold_transaction_id)
        ), settled AS (
          -- A batch never settles a hold it opens (a hold's id is known once its batch commits).
          UPDATE holds
             SET status = s.status, captured_amount = s.captured_amount,
                 settlement_transaction_id = s.transaction_id, settled_at = s.settled_at
            FROM unnest(${settled.map((h) => h.id)}::uuid[], ${settled.map((h) => h.status)}::varchar[],
                        ${settled.map((h) => h.capturedAmount)}::bigint[], ${settled.map((h) => h.settlementTransactionId)}::uuid[],
                        ${settled.map((h) => h.settledAt)}::timestamptz[])
                 AS s (id, status, captured_amount, transaction_id, settled_at)
           WHERE holds.id = s.id
        )
        SELECT 1`.withoutTransform.pipe(Effect.asVoid)
    }

    const findUserAndAsset = SqlSchema.single({
      Request: Schema.Struct({ userId: Schema.Number, assetCode: Schema.NullOr(Schema.String) }),
      Result: Schema.Struct({ userExists: Schema.Boolean, assetExists: Schema.Boolean }),
      execute: ({ assetCode, userId }) =>
        sql`
          SELECT EXISTS (SELECT 1 FROM users WHERE id = ${userId}) AS "userExists",
                 (${assetCode}::varchar IS NULL OR EXISTS (SELECT 1 FROM assets WHERE code = ${assetCode})) AS "assetExists"`
            .withoutTransform
    })

    /**
     * The balances of many reads in one statement (wallet/ReadBatcher.ts): for each read, every
     * asset (or the one asked for), with 0 where the user has no wallet for it, tagged with the
     * read's index. No rows for a read whose user or asset does not exist.
     */
    const balancesOf = (reads: ReadonlyArray<BalancesRequest>) =>
      sql<BalanceRow & ReadIndex>`
          SELECT r.read::int AS "read", a.code AS "assetCode", coalesce(w.balance, 0) AS balance,
                 coalesce((SELECT sum(h.amount) FROM holds h
                            WHERE h.user_id = u.id AND h.asset_code = a.code AND h.status = 'HELD'), 0)::bigint AS held
            FROM unnest(${reads.map((read) => read.userId)}::bigint[], ${reads.map((read) => read.assetCode ?? null)}::varchar[])
                 WITH ORDINALITY AS r (user_id, asset_code, read)
            JOIN users u ON u.id = r.user_id
            JOIN assets a ON r.asset_code IS NULL OR a.code = r.asset_code
            LEFT JOIN wallets w ON w.asset_code = a.code AND w.user_id = u.id
           ORDER BY r.read, a.code`.withoutTransform

    /**
     * The balances as they were at `at`: each wallet's balance after its last entry created
     * then or before, found down the (wallet_id, created_at DESC, id DESC) index in one probe
     * per wallet. Rows as `balancesOf` gives them, for one read.
     */
    const balancesAt = (userId: UserId, assetCode: AssetCode | undefined, at: Date) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: BalanceRow,
        execute: () =>
          sql`
            SELECT a.code AS "assetCode",
                   coalesce((SELECT e.balance_after FROM ledger_entries e
                              WHERE e.wallet_id = w.id AND e.created_at <= ${at}
                              ORDER BY e.created_at DESC, e.id DESC
                              LIMIT 1), 0) AS balance,
                   coalesce((SELECT sum(h.amount) FROM holds h
                              WHERE h.user_id = u.id AND h.asset_code = a.code AND h.created_at <= ${at}
                                AND (h.settled_at IS NULL OR h.settled_at > ${at})), 0)::bigint AS held
              FROM users u
              CROSS JOIN assets a
              LEFT JOIN wallets w ON w.asset_code = a.code AND w.user_id = u.id
             WHERE ${sql.and([sql`u.id = ${userId}`, assetCode === undefined ? sql`TRUE` : sql`a.code = ${assetCode}`])}
             ORDER BY a.code`.withoutTransform
      })(undefined)

    /**
     * History pages of many reads in one statement (wallet/ReadBatcher.ts), each newest first by
     * entry id with one row more than asked, to know whether a next page exists, and tagged
     * with the read's index. Each of a user's wallets is read down its own (wallet_id, id DESC)
     * index, at most as far as the page reaches, and only the page is joined to its
     * transactions: walking the whole ledger backwards for one player's entries grew with
     * everyone else's writes. A read without a cursor starts below the largest bigint, so that
     * the cursor is always an index condition rather than a filter.
     */
    const historiesOf = (reads: ReadonlyArray<HistoryRequest>) =>
      sql<HistoryRow>`
          SELECT e.read::int AS "read", e.id, e.transaction_id AS "transactionId", t.type,
                 e.asset_code AS "assetCode", e.entry_type AS "entryType", e.amount,
                 e.balance_after AS "balanceAfter", t.description, t.metadata, t.created_by AS "createdBy",
                 e.created_at AS "createdAt"
            FROM unnest(
                   ${reads.map((read) => read.userId)}::bigint[],
                   ${reads.map((read) => read.assetCode ?? null)}::varchar[],
                   ${reads.map((read) => read.cursor ?? null)}::bigint[],
                   ${reads.map((read) => read.offset)}::int[],
                   ${reads.map((read) => read.limit)}::int[]
                 ) WITH ORDINALITY AS r (user_id, asset_code, below, skip, size, read)
           CROSS JOIN LATERAL (
             SELECT r.read, page.* FROM wallets w
              CROSS JOIN LATERAL (
                SELECT * FROM ledger_entries e
                 WHERE e.wallet_id = w.id AND e.id < coalesce(r.below, 9223372036854775807)
                 ORDER BY e.id DESC
                 LIMIT r.skip + r.size + 1
              ) page
              WHERE w.user_id = r.user_id AND (r.asset_code IS NULL OR w.asset_code = r.asset_code)
              ORDER BY page.id DESC
              LIMIT r.size + 1 OFFSET r.skip
           ) e
            JOIN transactions t ON t.id = e.transaction_id
           ORDER BY e.read, e.id DESC`.withoutTransform

    /**
     * Deletes up to `limit` of the oldest records created before `cutoff`. SKIP LOCKED: a key a
     * write is claiming right now is never waited on, and two processes pruning at once take
     * different rows. Returns how many it deleted.
     */
    const pruneIdempotencyRecords = (cutoff: Date, limit: number) =>
      sql<{ readonly key: string }>`
        DELETE FROM idempotency_records
         WHERE key IN (
           SELECT key FROM idempotency_records
            WHERE created_at < ${cutoff}
            ORDER BY created_at
            LIMIT ${limit}
            FOR UPDATE SKIP LOCKED
         )
        RETURNING key`.withoutTransform.pipe(Effect.map((rows) => rows.length))

    const ping = sql`SELECT 1`.withoutTransform.pipe(Effect.asVoid)

    return {
      claimKeys: (claims: ReadonlyArray<{ readonly key: IdempotencyKey; readonly fingerprint: string }>) =>
        Effect.orDie(claimKeys(claims)),
      storedRecords: (keys: ReadonlyArray<IdempotencyKey>) => Effect.orDie(storedRecords(keys)),
      findAccounts: (accounts: ReadonlyArray<{ readonly userId: UserId; readonly assetCode: AssetCode }>) =>
        Effect.orDie(findAccounts(accounts)),
      openWallets: (
        wallets: ReadonlyArray<{ readonly userId: UserId; readonly ownerKind: UserKind; readonly assetCode: AssetCode }>
      ) => Effect.orDie(openWallets(wallets)),
      lockWallets: (ids: ReadonlyArray<WalletId>) => Effect.orDie(lockWallets(ids)),
      lockHolds: (ids: ReadonlyArray<HoldId>) => Effect.orDie(lockHolds(ids)),
      transactionTime: Effect.orDie(transactionTime),
      findOriginals: (ids: ReadonlyArray<TransactionId>) => Effect.orDie(findOriginals(ids)),
      reversedAmounts: (ids: ReadonlyArray<TransactionId>) => Effect.orDie(reversedAmounts(ids)),
      writeBatch: (batch: BatchWrites) => Effect.orDie(writeBatch(batch)),
      findUserAndAsset: (userId: UserId, assetCode: AssetCode | undefined) =>
        Effect.orDie(findUserAndAsset({ userId, assetCode: assetCode ?? null })),
      balancesOf: (reads: ReadonlyArray<BalancesRequest>) => Effect.orDie(balancesOf(reads)),
      balancesAt: (userId: UserId, assetCode: AssetCode | undefined, at: Date) =>
        Effect.orDie(balancesAt(userId, assetCode, at)),
      historiesOf: (reads: ReadonlyArray<HistoryRequest>) => Effect.orDie(historiesOf(reads)),
      pruneIdempotencyRecords,
      /** Fails (typed) when the database does not answer: health reports it rather than dying. */
      ping
    } as const
  })
}) {}

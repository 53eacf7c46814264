import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import type { AssetCode } from "../domain/Asset.ts"
import { HistoryItem, type HistoryPageRequest } from "../domain/History.ts"
import type { IdempotencyKey, IdempotencyRecord } from "../domain/Idempotency.ts"
import { applyPosting, type Posting, type WalletId, type WalletState } from "../domain/Posting.ts"
import type { PostingRejection, TransactionId } from "../domain/Transaction.ts"
import { TreasuryUserId, type UserId, UserKind, type Username } from "../domain/User.ts"

/** A posting that was applied: its transaction and both wallets' balances after it. */
export interface PostedTransaction {
  readonly posting: Posting
  readonly transactionId: TransactionId
  readonly createdAt: Date
  readonly debitBalanceAfter: number
  readonly creditBalanceAfter: number
}

export type PostingOutcome = Either.Either<PostedTransaction, PostingRejection>

/** Who and what a write is about, as the database knows them; null where it does not. */
const AccountRow = Schema.Struct({
  userId: Schema.NullOr(Schema.Number),
  userKind: Schema.NullOr(UserKind),
  assetCode: Schema.NullOr(Schema.String),
  walletId: Schema.NullOr(Schema.Number),
  treasuryWalletId: Schema.NullOr(Schema.Number)
})
export type AccountRow = typeof AccountRow.Type

const WalletRow = Schema.Struct({
  id: Schema.Number,
  userId: Schema.Number,
  ownerKind: UserKind,
  balance: Schema.Number
})

const StoredResponse = Schema.Struct({
  fingerprint: Schema.String,
  statusCode: Schema.Number,
  responseBody: Schema.Unknown
})

const HistoryRow = Schema.Struct({
  id: Schema.Number,
  ...HistoryItem.fields,
  createdAt: Schema.DateFromSelf
})
export type HistoryRow = typeof HistoryRow.Type

const BalanceRow = Schema.Struct({ assetCode: Schema.String, balance: Schema.Number })

/**
 * The only module that speaks SQL. Infrastructure failures become defects here, so the
 * services above see domain outcomes only; every function expects to run inside the caller's
 * transaction where it writes.
 */
export class LedgerRepository extends Effect.Service<LedgerRepository>()("LedgerRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const findAccount = SqlSchema.single({
      Request: Schema.Struct({ userId: Schema.Number, assetCode: Schema.String }),
      Result: AccountRow,
      execute: ({ assetCode, userId }) =>
        sql`
          SELECT u.id AS user_id, u.kind AS user_kind, a.code AS asset_code,
                 w.id AS wallet_id, t.id AS treasury_wallet_id
            FROM (VALUES (1)) AS one (x)
            LEFT JOIN users u ON u.id = ${userId}
            LEFT JOIN assets a ON a.code = ${assetCode}
            LEFT JOIN wallets w ON w.user_id = u.id AND w.asset_code = a.code
            LEFT JOIN wallets t ON t.user_id = ${TreasuryUserId} AND t.asset_code = a.code`
    })

    /**
     * Wallets are opened with the user for every asset that exists then; an asset added later
     * gets its wallets on first use. ON CONFLICT makes a concurrent opening harmless.
     */
    const openWallet = (userId: number, ownerKind: UserKind, assetCode: string) =>
      sql`
        INSERT INTO wallets ${sql.insert({ userId, ownerKind, assetCode })}
        ON CONFLICT (user_id, asset_code) DO NOTHING`.pipe(
        Effect.zipRight(sql<{ id: number }>`SELECT id FROM wallets WHERE user_id = ${userId} AND asset_code = ${assetCode}`),
        Effect.map((rows) => rows[0]!.id as WalletId)
      )

    const lockWallets = SqlSchema.findAll({
      Request: Schema.Array(Schema.Number),
      Result: WalletRow,
      // Every writer locks its wallets in ascending id order, so two writers over the same
      // wallets (every topup touches the treasury) queue behind each other but never deadlock.
      execute: (ids) =>
        sql`SELECT id, user_id, owner_kind, balance FROM wallets WHERE id IN ${sql.in(ids)} ORDER BY id FOR UPDATE`
    })

    /**
     * Applies the postings in order, in the caller's transaction: locks every wallet they touch
     * (one statement), checks each posting against the balances left by the ones before it
     * (the pure rules of domain/Posting.ts), and writes the transactions, their DEBIT and CREDIT
     * entries and the new balances (one statement), whatever the number of postings. A
     * rejected posting writes nothing and does not stop the others.
     */
    const post = (postings: Arr.NonEmptyReadonlyArray<Posting>) =>
      Effect.gen(function*() {
        const walletIds = Arr.dedupe(postings.flatMap((p) => [p.debitWalletId, p.creditWalletId])).sort((a, b) => a - b)
        const locked = yield* lockWallets(walletIds)
        const wallets = new Map<number, WalletState>(locked.map((row) => [row.id, row as WalletState]))
        const outcomes = postings.map((posting) => {
          const debit = wallets.get(posting.debitWalletId)!
          const credit = wallets.get(posting.creditWalletId)!
          return Either.map(applyPosting(posting, debit, credit), (balances) => {
            wallets.set(debit.id, { ...debit, balance: balances.debitBalanceAfter })
            wallets.set(credit.id, { ...credit, balance: balances.creditBalanceAfter })
            return { posting, transactionId: randomUUID() as TransactionId, ...balances }
          })
        })
        const applied = Arr.getRights(outcomes)
        const createdAt = Arr.isNonEmptyReadonlyArray(applied)
          ? yield* writeTransactions(applied, locked.map(({ id }) => ({ id, balance: wallets.get(id)!.balance })))
          : new Map<string, Date>()
        return outcomes.map(Either.map((posted): PostedTransaction => ({ ...posted, createdAt: createdAt.get(posted.transactionId)! })))
      }).pipe(Effect.orDie, Effect.withSpan("LedgerRepository.post", { attributes: { postings: postings.length } }))

    /**
     * One statement: the transactions, both entries of each and the wallets' new balances, so
     * a failure writes nothing and the wallet locks wait on one round trip, not two.
     */
    const writeTransactions = (
      applied: Arr.NonEmptyReadonlyArray<Omit<PostedTransaction, "createdAt">>,
      balances: ReadonlyArray<{ readonly id: number; readonly balance: number }>
    ) =>
      sql<{ id: string; createdAt: Date }>`
        WITH inserted AS (
          INSERT INTO transactions ${sql.insert(
            applied.map(({ posting, transactionId }) => ({
              id: transactionId,
              type: posting.type,
              assetCode: posting.assetCode,
              amount: posting.amount,
              description: posting.description
            }))
          )}
          RETURNING id, created_at
        ), entries AS (
          INSERT INTO ledger_entries ${sql.insert(
            applied.flatMap(({ creditBalanceAfter, debitBalanceAfter, posting, transactionId }) => [
              {
                transactionId,
                walletId: posting.debitWalletId,
                assetCode: posting.assetCode,
                entryType: "DEBIT",
                amount: posting.amount,
                balanceAfter: debitBalanceAfter
              },
              {
                transactionId,
                walletId: posting.creditWalletId,
                assetCode: posting.assetCode,
                entryType: "CREDIT",
                amount: posting.amount,
                balanceAfter: creditBalanceAfter
              }
            ])
          )}
        ), balances AS (
          UPDATE wallets SET balance = data.balance::bigint, updated_at = now()
            FROM ${sql.updateValues(balances, "data")}
           WHERE wallets.id = data.id::bigint
        )
        SELECT id, created_at FROM inserted`.pipe(
        Effect.map((rows) => new Map(rows.map((row) => [row.id, row.createdAt])))
      )

    /**
     * Inserts the key first thing in the write's transaction. A concurrent request with the
     * same key blocks on the primary key until this transaction ends, then finds the stored
     * response; if this transaction rolls back, the key is free again. Some(record) when the
     * key was already used.
     */
    const claimIdempotencyKey = (key: IdempotencyKey, fingerprint: string) =>
      sql`
        INSERT INTO idempotency_records ${sql.insert({ key, fingerprint })}
        ON CONFLICT (key) DO NOTHING
        RETURNING key`.pipe(
        Effect.flatMap((claimed) =>
          claimed.length > 0
            ? Effect.succeedNone
            : SqlSchema.findOne({
              Request: Schema.String,
              Result: StoredResponse,
              execute: (key) =>
                sql`SELECT fingerprint, status_code, response_body FROM idempotency_records WHERE key = ${key}`
            })(key)
        ),
        Effect.map(Option.map((record): IdempotencyRecord => record)),
        Effect.orDie
      )

    const completeIdempotencyKey = (
      key: IdempotencyKey,
      response: { readonly statusCode: number; readonly body: unknown; readonly transactionId: string | null }
    ) =>
      sql`
        UPDATE idempotency_records
           SET status_code = ${response.statusCode},
               response_body = ${JSON.stringify(response.body)}::json,
               transaction_id = ${response.transactionId}
         WHERE key = ${key}`.pipe(Effect.asVoid, Effect.orDie)

    const findUserAndAsset = SqlSchema.single({
      Request: Schema.Struct({ userId: Schema.Number, assetCode: Schema.NullOr(Schema.String) }),
      Result: Schema.Struct({ userExists: Schema.Boolean, assetExists: Schema.Boolean }),
      execute: ({ assetCode, userId }) =>
        sql`
          SELECT EXISTS (SELECT 1 FROM users WHERE id = ${userId}) AS user_exists,
                 (${assetCode}::varchar IS NULL OR EXISTS (SELECT 1 FROM assets WHERE code = ${assetCode})) AS asset_exists`
    })

    /**
     * Every asset (or the one asked for), with 0 where the user has no wallet for it. No rows
     * when the user or the asset does not exist.
     */
    const balances = (userId: UserId, assetCode: AssetCode | undefined) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: BalanceRow,
        execute: () =>
          sql`
            SELECT a.code AS asset_code, coalesce(w.balance, 0) AS balance
              FROM users u
              CROSS JOIN assets a
              LEFT JOIN wallets w ON w.asset_code = a.code AND w.user_id = u.id
             WHERE ${sql.and([sql`u.id = ${userId}`, assetCode === undefined ? sql`TRUE` : sql`a.code = ${assetCode}`])}
             ORDER BY a.code`
      })(undefined)

    /** Newest first by entry id; one row more than asked, to know whether a next page exists. */
    const history = (userId: UserId, query: HistoryPageRequest) =>
      SqlSchema.findAll({
        Request: Schema.Void,
        Result: HistoryRow,
        execute: () =>
          sql`
            SELECT e.id, e.transaction_id, t.type, e.asset_code, e.entry_type, e.amount, e.balance_after,
                   t.description, e.created_at
              FROM ledger_entries e
              JOIN wallets w ON w.id = e.wallet_id
              JOIN transactions t ON t.id = e.transaction_id
             WHERE ${
            sql.and([
              sql`w.user_id = ${userId}`,
              query.assetCode === undefined ? sql`TRUE` : sql`w.asset_code = ${query.assetCode}`,
              query.cursor === undefined ? sql`TRUE` : sql`e.id < ${query.cursor}`
            ])
          }
             ORDER BY e.id DESC
             LIMIT ${query.limit + 1} OFFSET ${query.offset}`
      })(undefined)

    /** The user and a wallet per existing asset, in one statement. None when the name is taken. */
    const createUser = (username: Username) =>
      sql<{ id: number; username: string }>`
        WITH created AS (
          INSERT INTO users (username, kind) VALUES (${username}, 'USER')
          ON CONFLICT ((lower(username))) DO NOTHING
          RETURNING id, username, kind
        ), opened AS (
          INSERT INTO wallets (user_id, owner_kind, asset_code)
          SELECT created.id, created.kind, assets.code FROM created CROSS JOIN assets
        )
        SELECT id, username FROM created`.pipe(Effect.map(Arr.head))

    const ping = sql`SELECT 1`.pipe(Effect.asVoid)

    return {
      findAccount: (userId: UserId, assetCode: AssetCode) => Effect.orDie(findAccount({ userId, assetCode })),
      openWallet: (userId: UserId, ownerKind: UserKind, assetCode: AssetCode) =>
        Effect.orDie(openWallet(userId, ownerKind, assetCode)),
      post,
      claimIdempotencyKey,
      completeIdempotencyKey,
      findUserAndAsset: (userId: UserId, assetCode: AssetCode | undefined) =>
        Effect.orDie(findUserAndAsset({ userId, assetCode: assetCode ?? null })),
      balances: (userId: UserId, assetCode: AssetCode | undefined) => Effect.orDie(balances(userId, assetCode)),
      history: (userId: UserId, query: HistoryPageRequest) => Effect.orDie(history(userId, query)),
      createUser: (username: Username) => Effect.orDie(createUser(username)),
      /** Fails (typed) when the database does not answer: health reports it rather than dying. */
      ping
    } as const
  })
}) {}

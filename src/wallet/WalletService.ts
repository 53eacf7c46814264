import { HttpApiSchema } from "@effect/platform"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import { type AssetCode, AssetNotFound } from "../domain/Asset.ts"
import { AllBalances, AssetBalance } from "../domain/Balance.ts"
import { HistoryItem, HistoryLimitDefault, HistoryPage, type HistoryQuery } from "../domain/History.ts"
import { Health, ServiceUnavailable } from "../domain/Http.ts"
import {
  type IdempotencyKey,
  IdempotencyKeyConflict,
  IdempotencyKeyMissing,
  IdempotencyKeyReused
} from "../domain/Idempotency.ts"
import type { Posting, WalletId } from "../domain/Posting.ts"
import {
  BalanceLimit,
  InsufficientFunds,
  type PostingRejection,
  Receipt,
  type WriteRequest,
  type WriteType
} from "../domain/Transaction.ts"
import { type NewUser, SystemAccount, TreasuryUserId, User, type UserId, UserNotFound, UsernameTaken } from "../domain/User.ts"
import { LedgerRepository, type PostedTransaction } from "../ledger/LedgerRepository.ts"
import { walletWrites } from "../observability/Metrics.ts"
import { retryOnConflict } from "./TransactionRetry.ts"

/**
 * A write either applied now, or had already been decided under its idempotency key, in which
 * case the first response is returned as it was stored.
 */
export type WriteResult = Data.TaggedEnum<{
  Applied: { readonly receipt: Receipt }
  Replayed: { readonly statusCode: number; readonly body: unknown }
}>
export const WriteResult = Data.taggedEnum<WriteResult>()

type Recorded = WriteResult | { readonly _tag: "Rejected"; readonly rejection: PostingRejection }

const encodeReceipt = Schema.encodeSync(Receipt)
const PostingRejection = Schema.Union(InsufficientFunds, BalanceLimit)
const encodeRejection = Schema.encodeSync(PostingRejection)

/** Debits come from the player on a spend, from the treasury otherwise. */
const direction = (type: WriteType, userWallet: WalletId, treasuryWallet: WalletId) =>
  type === "SPEND"
    ? { debitWalletId: userWallet, creditWalletId: treasuryWallet }
    : { debitWalletId: treasuryWallet, creditWalletId: userWallet }

/**
 * What makes two requests "the same" under one key: every field of the body but the key.
 * Hashed so that the stored fingerprint has a fixed size whatever the description.
 */
const fingerprint = (type: WriteType, request: WriteRequest): string =>
  createHash("sha256")
    .update(JSON.stringify([type, request.userId, request.assetCode, request.amount, request.description ?? null]))
    .digest("hex")

const countWrite = (type: WriteType, outcome: string) =>
  Metric.increment(Metric.tagged(Metric.tagged(walletWrites, "type", type), "outcome", outcome))

const resolveKey = (
  bodyKey: IdempotencyKey | undefined,
  headerKey: IdempotencyKey | undefined
): Effect.Effect<IdempotencyKey, IdempotencyKeyMissing | IdempotencyKeyConflict> => {
  if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) {
    return Effect.fail(IdempotencyKeyConflict.instance)
  }
  const key = bodyKey ?? headerKey
  return key === undefined ? Effect.fail(IdempotencyKeyMissing.instance) : Effect.succeed(key)
}

const receiptOf = (posted: PostedTransaction) =>
  new Receipt({
    transactionId: posted.transactionId,
    type: posted.posting.type,
    userId: posted.posting.userId,
    assetCode: posted.posting.assetCode,
    amount: posted.posting.amount,
    balance: posted.posting.type === "SPEND" ? posted.debitBalanceAfter : posted.creditBalanceAfter,
    description: posted.posting.description,
    createdAt: posted.createdAt
  })

export class WalletService extends Effect.Service<WalletService>()("WalletService", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const ledger = yield* LedgerRepository

    /** The user's and the treasury's wallets for the asset, opening either if it is missing. */
    const walletsFor = Effect.fn("WalletService.walletsFor")(function*(userId: UserId, assetCode: AssetCode) {
      const account = yield* ledger.findAccount(userId, assetCode)
      if (account.userKind === null) return yield* UserNotFound.of(userId)
      if (account.assetCode === null) return yield* AssetNotFound.of(assetCode)
      if (account.userKind === "SYSTEM") return yield* SystemAccount.of(userId)
      const userWallet = account.walletId ?? (yield* ledger.openWallet(userId, "USER", assetCode))
      const treasuryWallet = account.treasuryWalletId ?? (yield* ledger.openWallet(TreasuryUserId, "SYSTEM", assetCode))
      return { userWallet: userWallet as WalletId, treasuryWallet: treasuryWallet as WalletId }
    })

    /**
     * One database transaction: claim the key, find the wallets, post, store the response under
     * the key. A rejection (insufficient funds, balance limit) is a final answer to the request,
     * so it is committed with its key and returned as a value; it becomes an error only after
     * the commit.
     */
    const record = Effect.fn("WalletService.record")(
      function*(type: WriteType, request: WriteRequest, key: IdempotencyKey) {
        const requestFingerprint = fingerprint(type, request)
        const previous = yield* ledger.claimIdempotencyKey(key, requestFingerprint)
        if (Option.isSome(previous)) {
          if (previous.value.fingerprint !== requestFingerprint) return yield* IdempotencyKeyReused.of(key)
          return WriteResult.Replayed({ statusCode: previous.value.statusCode, body: previous.value.responseBody })
        }
        const wallets = yield* walletsFor(request.userId, request.assetCode)
        const posting: Posting = {
          type,
          userId: request.userId,
          assetCode: request.assetCode,
          amount: request.amount,
          description: request.description ?? null,
          ...direction(type, wallets.userWallet, wallets.treasuryWallet)
        }
        const [outcome] = yield* ledger.post([posting])
        return yield* Either.match(outcome!, {
          onLeft: (rejection) =>
            ledger.completeIdempotencyKey(key, {
              statusCode: HttpApiSchema.getStatusError(rejection._tag === "InsufficientFunds" ? InsufficientFunds : BalanceLimit),
              body: encodeRejection(rejection),
              transactionId: null
            }).pipe(Effect.as<Recorded>({ _tag: "Rejected", rejection })),
          onRight: (posted) => {
            const receipt = receiptOf(posted)
            return ledger.completeIdempotencyKey(key, {
              statusCode: 201,
              body: encodeReceipt(receipt),
              transactionId: posted.transactionId
            }).pipe(Effect.as<Recorded>(WriteResult.Applied({ receipt })))
          }
        })
      },
      sql.withTransaction,
      retryOnConflict,
      Effect.catchTag("SqlError", Effect.die)
    )

    const write = (type: WriteType) =>
      Effect.fn(`WalletService.${type.toLowerCase()}`)(function*(
        request: WriteRequest,
        headerKey: IdempotencyKey | undefined
      ) {
        const key = yield* resolveKey(request.idempotencyKey, headerKey)
        const recorded = yield* record(type, request, key)
        if (recorded._tag === "Rejected") return yield* recorded.rejection
        return recorded
      }, (write) =>
        Effect.tapBoth(write, {
          onSuccess: (result) => countWrite(type, result._tag === "Applied" ? "applied" : "replayed"),
          onFailure: (error) => countWrite(type, error.code)
        }))

    /**
     * Reads answer in one statement. Only an empty answer costs a second one, to tell an
     * unknown user or asset (404) from a user with nothing to show.
     */
    const explainEmpty = Effect.fn("WalletService.explainEmpty")(function*(
      userId: UserId,
      assetCode: AssetCode | undefined
    ) {
      const found = yield* ledger.findUserAndAsset(userId, assetCode)
      if (!found.userExists) return yield* UserNotFound.of(userId)
      if (!found.assetExists) return yield* AssetNotFound.of(assetCode ?? "")
    })

    const balance = Effect.fn("WalletService.balance")(function*(userId: UserId, assetCode: AssetCode | undefined) {
      const rows = yield* ledger.balances(userId, assetCode)
      if (rows.length === 0) yield* explainEmpty(userId, assetCode)
      if (assetCode !== undefined) {
        return new AssetBalance({ userId, assetCode, balance: rows[0]?.balance ?? 0 })
      }
      return new AllBalances({
        userId,
        balances: rows.map((row) => ({ assetCode: row.assetCode as AssetCode, balance: row.balance }))
      })
    })

    const history = Effect.fn("WalletService.history")(function*(userId: UserId, params: HistoryQuery) {
      const query = {
        limit: params.limit ?? HistoryLimitDefault,
        offset: params.offset ?? 0,
        assetCode: params.assetCode,
        cursor: params.cursor
      }
      const rows = yield* ledger.history(userId, query)
      if (rows.length === 0) yield* explainEmpty(userId, query.assetCode)
      const page = rows.slice(0, query.limit)
      return new HistoryPage({
        items: page.map(({ id: _, ...item }) => new HistoryItem(item)),
        limit: query.limit,
        offset: query.offset,
        nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null
      })
    })

    const createUser = Effect.fn("WalletService.createUser")(function*(request: NewUser) {
      const created = yield* ledger.createUser(request.username)
      if (Option.isNone(created)) return yield* UsernameTaken.of(request.username)
      return new User({ userId: created.value.id as UserId, username: request.username })
    })

    const health = ledger.ping.pipe(
      Effect.timeout("2 seconds"),
      Effect.as(new Health({ status: "ok", database: "up" })),
      Effect.catchAll(() =>
        new ServiceUnavailable({ status: "unavailable", message: "The database does not answer" })
      ),
      Effect.withSpan("WalletService.health")
    )

    /**
     * A credit debits the treasury, which has no floor but the issued-total limit (a
     * BalanceLimit), so InsufficientFunds cannot happen: if it did, it would be a bug.
     */
    const credit = (type: "TOPUP" | "BONUS") => {
      const run = write(type)
      return (request: WriteRequest, headerKey: IdempotencyKey | undefined) =>
        run(request, headerKey).pipe(Effect.catchTag("InsufficientFunds", Effect.die))
    }

    return {
      topup: credit("TOPUP"),
      bonus: credit("BONUS"),
      spend: write("SPEND"),
      balance,
      history,
      createUser,
      health
    } as const
  })
}) {}

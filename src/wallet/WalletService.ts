import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import type { ApiKeyId } from "../domain/ApiKey.ts"
import type { AssetCode } from "../domain/Asset.ts"
import { AssetNotFound } from "../domain/Asset.ts"
import { AllBalances, AssetBalance } from "../domain/Balance.ts"
import { HistoryItem, HistoryLimitDefault, HistoryPage, type HistoryQuery } from "../domain/History.ts"
import { Health, ServiceUnavailable } from "../domain/Http.ts"
import type { IdempotencyKey } from "../domain/Idempotency.ts"
import { ReversalReceipt, type ReversalRequest } from "../domain/Reversal.ts"
import { Receipt, type TransactionId, type WriteRequest, type WriteType } from "../domain/Transaction.ts"
import { MultiLegReceipt, type MultiLegRequest, TransferReceipt, type TransferRequest } from "../domain/Transfer.ts"
import { type UserId, UserNotFound } from "../domain/User.ts"
import {
  type AnyReceipt,
  type BulkWriteItem,
  multiLegCommand,
  reversalCommand,
  transferCommand,
  writeCommand
} from "../domain/Write.ts"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { Committer } from "./Committer.ts"
import { ReadBatcher } from "./ReadBatcher.ts"
import { counted, countOutcome, expecting, foreignRefusalsDie, resolveKey } from "./WriteOutcome.ts"

const isReceipt = (receipt: AnyReceipt): receipt is Receipt => receipt instanceof Receipt
const isTransferReceipt = (receipt: AnyReceipt): receipt is TransferReceipt => receipt instanceof TransferReceipt
const isMultiLegReceipt = (receipt: AnyReceipt): receipt is MultiLegReceipt => receipt instanceof MultiLegReceipt
const isReversalReceipt = (receipt: AnyReceipt): receipt is ReversalReceipt => receipt instanceof ReversalReceipt

export class WalletService extends Effect.Service<WalletService>()("WalletService", {
  effect: Effect.gen(function*() {
    const ledger = yield* LedgerRepository
    const committer = yield* Committer
    const reads = yield* ReadBatcher

    /** Decides the key, then hands the write to the committer and waits for its own outcome. */
    const write = (type: WriteType) =>
      Effect.fn(`WalletService.${type.toLowerCase()}`)(function*(
        request: WriteRequest,
        headerKey: IdempotencyKey | undefined,
        requestId: string | null,
        createdBy: ApiKeyId | null
      ) {
        const key = yield* resolveKey(request.idempotencyKey, headerKey)
        return yield* committer.submit(writeCommand(type, request, key, requestId, createdBy)).pipe(
          Effect.flatMap(expecting(isReceipt)),
          foreignRefusalsDie,
          // Both sides of a v1 write are different users by construction.
          Effect.catchTag("SameWallet", Effect.die)
        )
      }, (write) => counted(type)(write))

    /** One asset from one player to another, through the committer like every write. */
    const transfer = Effect.fn("WalletService.transfer")(function*(
      request: TransferRequest,
      headerKey: IdempotencyKey | undefined,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const key = yield* resolveKey(request.idempotencyKey, headerKey)
      return yield* committer.submit(transferCommand(request, key, requestId, createdBy)).pipe(
        Effect.flatMap(expecting(isTransferReceipt)),
        foreignRefusalsDie
      )
    }, (transfer) => counted("TRANSFER")(transfer))

    /** Legs applied in order, all or none, as one transaction through the committer. */
    const transact = Effect.fn("WalletService.transact")(function*(
      request: MultiLegRequest,
      headerKey: IdempotencyKey | undefined,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const key = yield* resolveKey(request.idempotencyKey, headerKey)
      const legs = request.legs
      // The schema asks for at least one leg; an empty list here would be a bug.
      if (!Arr.isNonEmptyReadonlyArray(legs)) return yield* Effect.dieMessage("A multi-leg transaction without legs")
      return yield* committer.submit(multiLegCommand(legs, request, key, requestId, createdBy)).pipe(
        Effect.flatMap(expecting(isMultiLegReceipt)),
        foreignRefusalsDie,
        // The treasury may be a side of a multi-leg transaction: no leg is refused for it.
        Effect.catchTag("SystemAccount", Effect.die)
      )
    }, (transact) => counted("TRANSACTION")(transact))

    /**
     * A reversal of an earlier transaction, through the committer like every write: its
     * wallets are the original's, so no user or asset can be unknown, and it moves money back
     * between the parties the original had, whoever they are.
     */
    const reverse = Effect.fn("WalletService.reverse")(function*(
      transactionId: TransactionId,
      request: ReversalRequest,
      headerKey: IdempotencyKey | undefined,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const key = yield* resolveKey(request.idempotencyKey, headerKey)
      return yield* committer.submit(reversalCommand(transactionId, request, key, requestId, createdBy)).pipe(
        Effect.flatMap(expecting(isReversalReceipt)),
        Effect.catchTags({
          UserNotFound: Effect.die,
          AssetNotFound: Effect.die,
          SameWallet: Effect.die,
          SystemAccount: Effect.die,
          HoldNotFound: Effect.die,
          HoldNotActive: Effect.die,
          CaptureExceedsHold: Effect.die
        })
      )
    }, (reverse) => counted("REVERSAL")(reverse))

    /**
     * A bulk request: every item independent, under its own key, each outcome its own and in
     * item order. All items are queued at once (or none, when the queue cannot take them).
     */
    const bulk = Effect.fn("WalletService.bulk")(function*(
      items: ReadonlyArray<BulkWriteItem>,
      requestId: string | null,
      createdBy: ApiKeyId | null
    ) {
      const exits = yield* committer.submitAll(
        items.map((item) => writeCommand(item.type, item, item.idempotencyKey, requestId, createdBy))
      )
      yield* Effect.forEach(exits, (exit, i) => countOutcome(items[i]!.type)(exit), { discard: true })
      return exits
    })

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

    /**
     * A read's answer is built without validating its values on the way in (`true`): the path
     * and query were decoded by the contract, and every value of the answer is checked once,
     * against the same field schemas, when the contract encodes the response. Checking them
     * here as well (and decoding the rows in the repository) cost a history page more CPU than
     * the rest of its work in the service.
     */
    const alreadyDecoded = true

    /**
     * Today's balances, or with `at` those of that moment. The two reads are untraced: with or
     * without a tracer, `Effect.fn` captures a stack trace and opens a span on every call, a few
     * µs each time for the cheapest and most frequent requests of the API.
     */
    const balance = Effect.fnUntraced(function*(
      userId: UserId,
      assetCode: AssetCode | undefined,
      at?: Date
    ) {
      const rows = yield* (at === undefined ? reads.balances({ userId, assetCode }) : ledger.balancesAt(userId, assetCode, at))
      if (rows.length === 0) yield* explainEmpty(userId, assetCode)
      if (assetCode !== undefined) {
        return new AssetBalance({ userId, assetCode, balance: rows[0]?.balance ?? 0, held: rows[0]?.held ?? 0 }, alreadyDecoded)
      }
      return new AllBalances({
        userId,
        balances: rows.map((row) => ({ assetCode: row.assetCode, balance: row.balance, held: row.held }))
      }, alreadyDecoded)
    })

    const history = Effect.fnUntraced(function*(userId: UserId, params: HistoryQuery) {
      const query = {
        limit: params.limit ?? HistoryLimitDefault,
        offset: params.offset ?? 0,
        assetCode: params.assetCode,
        cursor: params.cursor
      }
      const rows = yield* reads.history({ userId, ...query })
      if (rows.length === 0) yield* explainEmpty(userId, query.assetCode)
      const page = rows.slice(0, query.limit)
      return new HistoryPage({
        items: page.map(({ id: _, ...item }) => new HistoryItem(item, alreadyDecoded)),
        limit: query.limit,
        offset: query.offset,
        nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null
      }, alreadyDecoded)
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
      return (
        request: WriteRequest,
        headerKey: IdempotencyKey | undefined,
        requestId: string | null,
        createdBy: ApiKeyId | null
      ) =>
        run(request, headerKey, requestId, createdBy).pipe(Effect.catchTag("InsufficientFunds", Effect.die))
    }

    return {
      topup: credit("TOPUP"),
      bonus: credit("BONUS"),
      spend: write("SPEND"),
      transfer,
      transact,
      reverse,
      bulk,
      balance,
      history,
      health
    } as const
  })
}) {}

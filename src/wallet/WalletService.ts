import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type { ApiKeyId } from "../domain/ApiKey.ts"
import type { AssetCode } from "../domain/Asset.ts"
import { AssetNotFound } from "../domain/Asset.ts"
import { AllBalances, AssetBalance } from "../domain/Balance.ts"
import { HistoryItem, HistoryLimitDefault, HistoryPage, type HistoryQuery } from "../domain/History.ts"
import { Health, ServiceUnavailable } from "../domain/Http.ts"
import { type IdempotencyKey, IdempotencyKeyConflict, IdempotencyKeyMissing } from "../domain/Idempotency.ts"
import type { WriteRequest, WriteType } from "../domain/Transaction.ts"
import { type NewUser, User, type UserId, UserNotFound, UsernameTaken } from "../domain/User.ts"
import { type BulkWriteItem, writeCommand, type WriteResult } from "../domain/Write.ts"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { walletWritesOf } from "../observability/Metrics.ts"
import { Committer } from "./Committer.ts"

const countWrite = (type: WriteType, outcome: string) => Metric.increment(walletWritesOf(type, outcome))

const countOutcome = (type: WriteType) => <E extends { readonly code: string }>(exit: Exit.Exit<WriteResult, E>) =>
  Exit.match(exit, {
    onSuccess: (result) => countWrite(type, result._tag === "Applied" ? "applied" : "replayed"),
    onFailure: (cause) =>
      Option.match(Cause.failureOption(cause), { onNone: () => countWrite(type, "defect"), onSome: (e) => countWrite(type, e.code) })
  })

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

export class WalletService extends Effect.Service<WalletService>()("WalletService", {
  effect: Effect.gen(function*() {
    const ledger = yield* LedgerRepository
    const committer = yield* Committer

    /** Decides the key, then hands the write to the committer and waits for its own outcome. */
    const write = (type: WriteType) =>
      Effect.fn(`WalletService.${type.toLowerCase()}`)(function*(
        request: WriteRequest,
        headerKey: IdempotencyKey | undefined,
        requestId: string | null,
        createdBy: ApiKeyId | null
      ) {
        const key = yield* resolveKey(request.idempotencyKey, headerKey)
        return yield* committer.submit(writeCommand(type, request, key, requestId, createdBy))
      }, (write) => Effect.tapBoth(write, {
        onSuccess: (result) => countOutcome(type)(Exit.succeed(result)),
        onFailure: (error) => countWrite(type, error.code)
      }))

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
     * A read's answer is built from values already decoded by the same field schemas (the path
     * and query by the contract, the rows by the repository), so the classes are made without
     * validating them a second time (`true`): for a history page that second pass cost more CPU
     * than decoding the rows. The response is still encoded by the contract's schema.
     */
    const alreadyDecoded = true

    /** Today's balances, or with `at` those of that moment. */
    const balance = Effect.fn("WalletService.balance")(function*(
      userId: UserId,
      assetCode: AssetCode | undefined,
      at?: Date
    ) {
      const rows = yield* (at === undefined ? ledger.balances(userId, assetCode) : ledger.balancesAt(userId, assetCode, at))
      if (rows.length === 0) yield* explainEmpty(userId, assetCode)
      if (assetCode !== undefined) {
        return new AssetBalance({ userId, assetCode, balance: rows[0]?.balance ?? 0 }, alreadyDecoded)
      }
      return new AllBalances({
        userId,
        balances: rows.map((row) => ({ assetCode: row.assetCode, balance: row.balance }))
      }, alreadyDecoded)
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
        items: page.map(({ id: _, ...item }) => new HistoryItem(item, alreadyDecoded)),
        limit: query.limit,
        offset: query.offset,
        nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null
      }, alreadyDecoded)
    })

    const createUser = Effect.fn("WalletService.createUser")(function*(request: NewUser) {
      const created = yield* ledger.createUser(request.username)
      if (Option.isNone(created)) return yield* UsernameTaken.of(request.username)
      return new User({ userId: created.value.id, username: request.username })
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
      bulk,
      balance,
      history,
      createUser,
      health
    } as const
  })
}) {}

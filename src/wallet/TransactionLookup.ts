import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { HistoryLimitDefault } from "../domain/History.ts"
import {
  legsOf,
  TransactionDetail,
  TransactionNotFound,
  TransactionPage,
  type TransactionQuery
} from "../domain/Lookup.ts"
import type { TransactionId } from "../domain/Transaction.ts"
import { UserNotFound } from "../domain/User.ts"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { type TransactionRow, TransactionRepository } from "../ledger/TransactionRepository.ts"

const detailOf = (row: TransactionRow) =>
  new TransactionDetail({
    transactionId: row.transactionId,
    type: row.type,
    legs: legsOf(row.entries),
    entries: row.entries,
    description: row.description,
    metadata: row.metadata,
    createdAt: row.createdAt
  })

/** Finding transactions again: one by its id, or a user's, newest first. */
export class TransactionLookup extends Effect.Service<TransactionLookup>()("TransactionLookup", {
  effect: Effect.gen(function*() {
    const transactions = yield* TransactionRepository
    const ledger = yield* LedgerRepository

    const byId = Effect.fn("TransactionLookup.byId")(function*(transactionId: TransactionId) {
      const row = yield* transactions.byId(transactionId)
      return yield* Option.match(row, {
        onNone: () => Effect.fail(TransactionNotFound.of(transactionId)),
        onSome: (found) => Effect.succeed(detailOf(found))
      })
    })

    const search = Effect.fn("TransactionLookup.search")(function*(query: TransactionQuery) {
      const limit = query.limit ?? HistoryLimitDefault
      const rows = yield* transactions.search({
        userId: query.userId,
        assetCode: query.assetCode,
        type: query.type,
        from: query.from,
        to: query.to,
        limit,
        cursor: query.cursor
      })
      // An empty page of a user who does not exist is a 404, not an empty list.
      if (rows.length === 0) {
        const found = yield* ledger.findUserAndAsset(query.userId, undefined)
        if (!found.userExists) return yield* Effect.fail(UserNotFound.of(query.userId))
      }
      const page = rows.slice(0, limit)
      return new TransactionPage({
        items: page.map(detailOf),
        limit,
        nextCursor: rows.length > limit ? page[page.length - 1]!.position : null
      })
    })

    return { byId, search } as const
  })
}) {}

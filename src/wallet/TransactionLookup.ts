import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import { HistoryLimitDefault } from "../domain/History.ts"
import { ValidationError } from "../domain/Http.ts"
import {
  legsOf,
  metadataFilterOf,
  TransactionDetail,
  TransactionEntry,
  TransactionNotFound,
  TransactionPage,
  type TransactionQuery
} from "../domain/Lookup.ts"
import type { TransactionId } from "../domain/Transaction.ts"
import { UserNotFound } from "../domain/User.ts"
import { LedgerRepository } from "../ledger/LedgerRepository.ts"
import { type TransactionRow, TransactionRepository } from "../ledger/TransactionRepository.ts"

/** A transaction as its lookup answers it (the events feed renders its data with it too). */
export const detailOf = (row: TransactionRow) =>
  new TransactionDetail({
    transactionId: row.transactionId,
    type: row.type,
    legs: legsOf(row.entries),
    // The leg of each entry shows in `legs`; the entries keep the shape they had.
    entries: row.entries.map(({ legIndex: _, ...entry }) => new TransactionEntry(entry, true)),
    description: row.description,
    metadata: row.metadata,
    createdBy: row.createdBy,
    reverses: row.reverses,
    reversedBy: row.reversedBy,
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

    const refuse = (message: string) => Effect.fail(new ValidationError({ message, issues: [{ path: [], message }] }))

    /**
     * By user (entry-id cursor), or by metadata alone across every user ((time, id) cursor):
     * each walks an index, never the whole ledger, so one of the two is required.
     */
    const search = Effect.fn("TransactionLookup.search")(function*(query: TransactionQuery) {
      const metadata = metadataFilterOf(query)
      if (Either.isLeft(metadata)) return yield* refuse(metadata.left)
      const limit = query.limit ?? HistoryLimitDefault
      const search = {
        assetCode: query.assetCode,
        metadata: metadata.right,
        type: query.type,
        from: query.from,
        to: query.to,
        limit
      }
      const cursor = query.cursor
      let rows: ReadonlyArray<TransactionRow>
      if (query.userId !== undefined) {
        if (cursor?._tag === "Time") return yield* refuse("cursor: this cursor belongs to a search without userId")
        rows = yield* transactions.byUser(query.userId, search, cursor?.entryId)
        // An empty page of a user who does not exist is a 404, not an empty list.
        if (rows.length === 0) {
          const found = yield* ledger.findUserAndAsset(query.userId, undefined)
          if (!found.userExists) return yield* Effect.fail(UserNotFound.of(query.userId))
        }
      } else if (Object.keys(metadata.right).length > 0) {
        if (cursor?._tag === "Entry") return yield* refuse("cursor: this cursor belongs to a search by userId")
        rows = yield* transactions.byMetadata(search, cursor)
      } else {
        return yield* refuse("userId or at least one metadata[KEY]=VALUE filter is required")
      }
      const page = rows.slice(0, limit)
      const last = page[page.length - 1]
      return new TransactionPage({
        items: page.map(detailOf),
        limit,
        nextCursor: rows.length <= limit || last === undefined
          ? null
          : query.userId !== undefined
          ? { _tag: "Entry", entryId: last.position! }
          : { _tag: "Time", micros: last.micros, transactionId: last.transactionId }
      })
    })

    return { byId, search } as const
  })
}) {}

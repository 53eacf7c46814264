import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { AssetCode } from "../domain/Asset.ts"
import { HoldId, HoldStatus } from "../domain/Hold.ts"
import { TransactionId } from "../domain/Transaction.ts"
import { UserId } from "../domain/User.ts"

/** A hold row as every reader names its columns; the batch's locked read adds the escrow's id. */
export const HoldRow = Schema.Struct({
  id: HoldId,
  userId: UserId,
  assetCode: AssetCode,
  amount: Schema.Number,
  capturedAmount: Schema.Number,
  status: HoldStatus,
  expiresAt: Schema.DateFromSelf,
  createdAt: Schema.DateFromSelf,
  holdTransactionId: TransactionId,
  settlementTransactionId: Schema.NullOr(TransactionId),
  settledAt: Schema.NullOr(Schema.DateFromSelf)
})
export type StoredHold = typeof HoldRow.Type

/** Holds read outside the committer: one by id, a player's, and those due for release. */
export class HoldRepository extends Effect.Service<HoldRepository>()("HoldRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const byId = SqlSchema.findOne({
      Request: Schema.String,
      Result: HoldRow,
      execute: (id) =>
        sql`
          SELECT id, user_id, asset_code, amount, captured_amount, status, expires_at, created_at,
                 hold_transaction_id, settlement_transaction_id, settled_at
            FROM holds WHERE id = ${id}`
    })

    /**
     * A user's holds, newest first, of one status or all, at most `limit`: the user's rows are
     * found through (user_id, asset_code), so the cost is the player's holds, not everyone's.
     */
    const byUser = SqlSchema.findAll({
      Request: Schema.Struct({ userId: Schema.Number, status: Schema.NullOr(Schema.String), limit: Schema.Number }),
      Result: HoldRow,
      execute: ({ limit, status, userId }) =>
        sql`
          SELECT id, user_id, asset_code, amount, captured_amount, status, expires_at, created_at,
                 hold_transaction_id, settlement_transaction_id, settled_at
            FROM holds WHERE user_id = ${userId} AND (${status}::varchar IS NULL OR status = ${status})
           ORDER BY created_at DESC, id LIMIT ${limit}`
    })

    /**
     * Active holds past their expiry, oldest first, through the partial index on active holds.
     * SKIP LOCKED passes over holds a batch is settling right now; the committer re-reads each
     * under its lock anyway, so a hold found by two processes is released once. The holds in
     * `skipping` (whose release failed here lately) are passed over, so that they never fill the
     * page and stop the others' release.
     */
    const due = (limit: number, skipping: ReadonlyArray<HoldId>) =>
      sql<{ id: HoldId }>`
        SELECT id FROM holds WHERE status = 'HELD' AND expires_at <= now() AND NOT (id = ANY(${skipping}::uuid[]))
         ORDER BY expires_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`.pipe(Effect.map((rows) => rows.map((row) => row.id)))

    return {
      byId: (id: HoldId) => Effect.orDie(byId(id)),
      byUser: (userId: UserId, status: HoldStatus | undefined, limit: number) =>
        Effect.orDie(byUser({ userId, status: status ?? null, limit })),
      /** Fails (typed) when the database does not answer: the expiry worker logs it and tries again. */
      due
    } as const
  })
}) {}

import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { UserId, UserKind, type Username } from "../domain/User.ts"

/** pg hands timestamps over as Dates already. */
const UserRow = Schema.Struct({ userId: UserId, username: Schema.String, kind: UserKind, createdAt: Schema.DateFromSelf })
export type UserRow = typeof UserRow.Type

/** Players and system accounts: registering one, and finding one by id or by name. */
export class UserRepository extends Effect.Service<UserRepository>()("UserRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /**
     * The user and a wallet per existing asset, in one statement. None when the name is taken,
     * whatever its case. A registration racing another of the same name waits on its row
     * (ON CONFLICT does), so a lookup after None sees the winner committed.
     */
    const create = SqlSchema.findOne({
      Request: Schema.String,
      Result: Schema.Struct({ id: UserId }),
      execute: (username) =>
        sql`
          WITH created AS (
            INSERT INTO users (username, kind) VALUES (${username}, 'USER')
            ON CONFLICT ((lower(username))) DO NOTHING
            RETURNING id, kind
          ), opened AS (
            INSERT INTO wallets (user_id, owner_kind, asset_code)
            SELECT created.id, created.kind, assets.code FROM created CROSS JOIN assets
          )
          SELECT id FROM created`.withoutTransform
    })

    const byId = SqlSchema.findOne({
      Request: UserId,
      Result: UserRow,
      execute: (userId) =>
        sql`SELECT id AS "userId", username, kind, created_at AS "createdAt" FROM users WHERE id = ${userId}`
          .withoutTransform
    })

    /** By the unique index on lower(username), so "Rex" finds "rex". */
    const byName = SqlSchema.findOne({
      Request: Schema.String,
      Result: UserRow,
      execute: (username) =>
        sql`
          SELECT id AS "userId", username, kind, created_at AS "createdAt"
            FROM users WHERE lower(username) = lower(${username})`.withoutTransform
    })

    return {
      create: (username: Username) => Effect.orDie(create(username)),
      byId: (userId: UserId) => Effect.orDie(byId(userId)),
      byName: (username: string) => Effect.orDie(byName(username))
    } as const
  })
}) {}

import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Asset, AssetCode, type AssetUpdate, MaxDebt, MaxDebtInUse, type NewAsset } from "../domain/Asset.ts"
import { TreasuryUserId } from "../domain/User.ts"
import { violates } from "../SqlFailure.ts"

/** pg hands timestamps over as Dates already. */
const AssetRow = Schema.Struct({ code: AssetCode, name: Schema.String, maxDebt: MaxDebt, createdAt: Schema.DateFromSelf })
const toAsset = (row: typeof AssetRow.Type) => new Asset(row)

/** The currencies the ledger holds. Columns are named in camelCase here, as the domain reads them. */
export class AssetRepository extends Effect.Service<AssetRepository>()("AssetRepository", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    const list = SqlSchema.findAll({
      Request: Schema.Void,
      Result: AssetRow,
      execute: () =>
        sql`SELECT code, name, max_debt AS "maxDebt", created_at AS "createdAt" FROM assets ORDER BY code`
    })

    /**
     * The asset and the treasury's wallet for it, in one statement; players' wallets open on
     * their first write. None when the code is taken.
     */
    const create = SqlSchema.findOne({
      Request: Schema.Struct({ code: Schema.String, name: Schema.String, maxDebt: Schema.Number }),
      Result: AssetRow,
      execute: (asset) =>
        sql`
          WITH created AS (
            INSERT INTO assets (code, name, max_debt) VALUES (${asset.code}, ${asset.name}, ${asset.maxDebt})
            ON CONFLICT (code) DO NOTHING
            RETURNING code, name, max_debt, created_at
          ), treasury AS (
            INSERT INTO wallets (user_id, owner_kind, asset_code)
            SELECT ${TreasuryUserId}, 'SYSTEM', created.code FROM created
          )
          SELECT code, name, max_debt AS "maxDebt", created_at AS "createdAt" FROM created`
    })

    /**
     * None when no asset has the code. A new max_debt reaches every wallet of the asset through
     * their composite key (ON UPDATE CASCADE), under each wallet's row lock, so a write waiting
     * on that lock checks its floor against the new limit; a wallet that owes more than the new
     * limit fails its CHECK and the whole statement with it.
     */
    const update = SqlSchema.findOne({
      Request: Schema.Struct({ code: Schema.String, name: Schema.NullOr(Schema.String), maxDebt: Schema.NullOr(Schema.Number) }),
      Result: AssetRow,
      execute: ({ code, maxDebt, name }) =>
        sql`
          UPDATE assets
          SET name = COALESCE(${name}::text, name), max_debt = COALESCE(${maxDebt}::bigint, max_debt)
          WHERE code = ${code}
          RETURNING code, name, max_debt AS "maxDebt", created_at AS "createdAt"`
    })

    /** What the players of an asset owe at most, now (0 when nobody owes anything). */
    const largestDebt = SqlSchema.single({
      Request: Schema.String,
      Result: Schema.Struct({ largestDebt: Schema.NumberFromString }),
      execute: (code) =>
        sql`
          SELECT COALESCE(MAX(-balance), 0)::text AS "largestDebt"
          FROM wallets WHERE asset_code = ${code} AND owner_kind <> 'SYSTEM' AND balance < 0`
    })

    return {
      update: (code: AssetCode, change: AssetUpdate) =>
        update({ code, name: change.name ?? null, maxDebt: change.maxDebt ?? null }).pipe(
          Effect.map(Option.map(toAsset)),
          Effect.catchAll((error) =>
            violates(error, "wallets_user_balance_within_floor")
              ? largestDebt(code).pipe(
                Effect.orDie,
                Effect.flatMap(({ largestDebt }) => Effect.fail(MaxDebtInUse.of(code, change.maxDebt ?? 0, largestDebt)))
              )
              : Effect.die(error)
          )
        ),
      list: list(undefined).pipe(Effect.map((rows) => rows.map(toAsset)), Effect.orDie),
      create: (asset: NewAsset) => create(asset).pipe(Effect.map(Option.map(toAsset)), Effect.orDie)
    } as const
  })
}) {}

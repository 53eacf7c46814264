import * as SqlClient from "@effect/sql/SqlClient"
import * as SqlSchema from "@effect/sql/SqlSchema"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { Asset, AssetCode, MaxDebt, type NewAsset } from "../domain/Asset.ts"
import { TreasuryUserId } from "../domain/User.ts"

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

    /** None when no asset has the code. */
    const rename = SqlSchema.findOne({
      Request: Schema.Struct({ code: Schema.String, name: Schema.String }),
      Result: AssetRow,
      execute: ({ code, name }) =>
        sql`
          UPDATE assets SET name = ${name} WHERE code = ${code}
          RETURNING code, name, max_debt AS "maxDebt", created_at AS "createdAt"`
    })

    return {
      rename: (code: AssetCode, name: string) => rename({ code, name }).pipe(Effect.map(Option.map(toAsset)), Effect.orDie),
      list: list(undefined).pipe(Effect.map((rows) => rows.map(toAsset)), Effect.orDie),
      create: (asset: NewAsset) => create(asset).pipe(Effect.map(Option.map(toAsset)), Effect.orDie)
    } as const
  })
}) {}

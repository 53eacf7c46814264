import * as Schema from "effect/Schema"
import { AssetCode } from "./Asset.ts"
import { Balance } from "./Money.ts"
import { UserId } from "./User.ts"

export const BalanceQuery = Schema.Struct({
  assetCode: Schema.optional(AssetCode),
  at: Schema.optional(Schema.Date).annotations({
    description: "An ISO-8601 time: the balances as they were then (by the start time of each ledger transaction)"
  })
})

/** What active holds keep of a player's asset, apart from the spendable balance. */
const Held = Schema.Int.pipe(Schema.nonNegative()).annotations({
  description: "What the player's active holds keep in escrow; not part of balance, which is what the player can spend"
})

export class AssetBalance extends Schema.Class<AssetBalance>("AssetBalance")({
  userId: UserId,
  assetCode: AssetCode,
  balance: Balance,
  held: Held
}) {}

export class AllBalances extends Schema.Class<AllBalances>("AllBalances")({
  userId: UserId,
  balances: Schema.Array(Schema.Struct({ assetCode: AssetCode, balance: Balance, held: Held }))
}) {}

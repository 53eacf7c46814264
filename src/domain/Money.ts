import * as Schema from "effect/Schema"
import { MaxAmount } from "./Limits.ts"

/** A JSON integer from 1 to 2^53 - 1. Strings, fractions, zero and negatives are refused. */
export const Amount = Schema.Int.pipe(
  Schema.between(1, MaxAmount),
  Schema.brand("Amount"),
  Schema.annotations({ description: "Integer amount, 1 to 9007199254740991" })
)
export type Amount = typeof Amount.Type

/** A balance: user wallets are never negative, the treasury is (it issued the currency). */
export const Balance = Schema.Int.pipe(
  Schema.between(-MaxAmount, MaxAmount),
  Schema.annotations({ description: "Integer balance" })
)
export type Balance = typeof Balance.Type

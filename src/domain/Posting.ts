import * as Either from "effect/Either"
import type { AssetCode } from "./Asset.ts"
import { MaxAmount } from "./Limits.ts"
import type { Amount } from "./Money.ts"
import { BalanceLimit, InsufficientFunds, type PostingRejection, type WriteType } from "./Transaction.ts"
import type { UserId, UserKind } from "./User.ts"

export type WalletId = number & { readonly WalletId: unique symbol }

/** A wallet as the posting rules see it: locked, with its current balance. */
export interface WalletState {
  readonly id: WalletId
  readonly userId: UserId
  readonly ownerKind: UserKind
  readonly balance: number
}

/**
 * One transfer to apply: `amount` moves from the debit wallet to the credit wallet. `userId`
 * is the player the request is about, whose balance the receipt reports.
 */
export interface Posting {
  readonly type: WriteType
  readonly userId: UserId
  readonly assetCode: AssetCode
  readonly amount: Amount
  readonly description: string | null
  readonly debitWalletId: WalletId
  readonly creditWalletId: WalletId
}

export interface PostedBalances {
  readonly debitBalanceAfter: number
  readonly creditBalanceAfter: number
}

/**
 * The money rules of one posting, as a pure function of the locked wallets: a user wallet
 * cannot go below zero, and no balance may leave the JSON-safe range (the treasury's from
 * below, which bounds the total issued). The database checks the same rules again.
 */
export const applyPosting = (
  posting: Posting,
  debit: WalletState,
  credit: WalletState
): Either.Either<PostedBalances, PostingRejection> => {
  const debitBalanceAfter = debit.balance - posting.amount
  const creditBalanceAfter = credit.balance + posting.amount
  if (debit.ownerKind === "USER" && debitBalanceAfter < 0) {
    return Either.left(
      new InsufficientFunds({
        userId: debit.userId,
        assetCode: posting.assetCode,
        balance: debit.balance,
        amount: posting.amount,
        message: `Balance ${debit.balance} ${posting.assetCode} is less than ${posting.amount}`
      })
    )
  }
  if (creditBalanceAfter > MaxAmount) {
    return Either.left(
      new BalanceLimit({
        userId: posting.userId,
        assetCode: posting.assetCode,
        amount: posting.amount,
        message: `A credit of ${posting.amount} would take the balance past ${MaxAmount}`
      })
    )
  }
  if (debitBalanceAfter < -MaxAmount) {
    return Either.left(
      new BalanceLimit({
        userId: posting.userId,
        assetCode: posting.assetCode,
        amount: posting.amount,
        message: `Issuing ${posting.amount} more ${posting.assetCode} would take the total issued past ${MaxAmount}`
      })
    )
  }
  return Either.right({ debitBalanceAfter, creditBalanceAfter })
}

import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { AssetCode } from "./Asset.ts"
import { MaxAmount } from "./Limits.ts"
import type { Amount } from "./Money.ts"
import { BalanceLimit, InsufficientFunds, type PostingRejection, type WriteType } from "./Transaction.ts"
import type { UserId, UserKind } from "./User.ts"

export const WalletId = Schema.Int.pipe(Schema.positive(), Schema.brand("WalletId"))
export type WalletId = typeof WalletId.Type

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

/**
 * The locked wallets of a batch and their balances as its postings apply, in order: each
 * posting sees the balances the ones before it left, and a rejected one changes nothing and
 * does not stop the rest, exactly as if they had come one transaction at a time. Local state,
 * no I/O: the committer decides with it in memory and writes the result once.
 */
export class BalanceSheet {
  private readonly wallets: Map<WalletId, WalletState>

  constructor(locked: ReadonlyArray<WalletState>) {
    this.wallets = new Map(locked.map((wallet) => [wallet.id, wallet]))
  }

  post(posting: Posting): Either.Either<PostedBalances, PostingRejection> {
    const debit = this.wallet(posting.debitWalletId)
    const credit = this.wallet(posting.creditWalletId)
    if (debit.id === credit.id) throw new Error(`Posting from wallet ${debit.id} to itself`)
    const outcome = applyPosting(posting, debit, credit)
    if (Either.isRight(outcome)) {
      this.wallets.set(debit.id, { ...debit, balance: outcome.right.debitBalanceAfter })
      this.wallets.set(credit.id, { ...credit, balance: outcome.right.creditBalanceAfter })
    }
    return outcome
  }

  /** Every wallet's balance now. */
  balances(): ReadonlyMap<WalletId, number> {
    return new Map(Array.from(this.wallets, ([id, wallet]) => [id, wallet.balance]))
  }

  private wallet(id: WalletId): WalletState {
    const wallet = this.wallets.get(id)
    // The committer locks every wallet its postings name; a missing one is a bug, not an outcome.
    if (wallet === undefined) throw new Error(`Wallet ${id} was not locked for its posting`)
    return wallet
  }
}

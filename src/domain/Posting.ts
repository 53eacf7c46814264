import * as Either from "effect/Either"
import * as Schema from "effect/Schema"
import type { AssetCode } from "./Asset.ts"
import { MaxAmount } from "./Limits.ts"
import type { Amount } from "./Money.ts"
import { BalanceLimit, DebtLimit, InsufficientFunds, type PostingRejection, type TransactionType } from "./Transaction.ts"
import type { UserId, UserKind } from "./User.ts"

export const WalletId = Schema.Int.pipe(Schema.positive(), Schema.brand("WalletId"))
export type WalletId = typeof WalletId.Type

/** A wallet as the posting rules see it: locked, with its current balance. */
export interface WalletState {
  readonly id: WalletId
  readonly userId: UserId
  readonly ownerKind: UserKind
  readonly balance: number
  /** How far below zero a reversal that allows debt may take it (its asset's); 0 when absent. */
  readonly maxDebt?: number
}

/**
 * One leg to apply: `amount` moves from the debit wallet to the credit wallet. `userId` is the
 * user a BalanceLimit names: the player of a v1 write, the receiver of a transfer or leg.
 */
export interface Posting {
  readonly type: TransactionType
  readonly userId: UserId
  readonly assetCode: AssetCode
  readonly amount: Amount
  readonly description: string | null
  readonly debitWalletId: WalletId
  readonly creditWalletId: WalletId
  /** The leg of a multi-leg transaction, which its refusal names; absent for one-leg writes. */
  readonly legIndex?: number
  /**
   * A reversal that allows debt: a player's balance may go down to minus its asset's maxDebt,
   * and past it the refusal is DebtLimit. Every other posting keeps the floor at zero.
   */
  readonly allowDebt?: boolean
}

export interface PostedBalances {
  readonly debitBalanceAfter: number
  readonly creditBalanceAfter: number
}

/**
 * How low a player's balance of an asset may go through an ordinary write: zero. A reversal
 * that allows debt goes down to the asset's own floor (minus its maxDebt) instead.
 */
export const PlayerFloor = 0

/** The lowest balance a posting may leave in a player's wallet. */
export const playerFloorOf = (posting: Posting, debit: WalletState): number =>
  posting.allowDebt === true ? -(debit.maxDebt ?? 0) : PlayerFloor

/**
 * The money rules of one posting, as a pure function of the locked wallets and the floor of
 * the asset for players: a user wallet cannot go below `playerFloor`, and no balance may leave
 * the JSON-safe range (the treasury's from below, which bounds the total issued). The
 * database checks the same rules again.
 */
export const applyPosting = (
  posting: Posting,
  debit: WalletState,
  credit: WalletState,
  playerFloor: number = playerFloorOf(posting, debit)
): Either.Either<PostedBalances, PostingRejection> => {
  const debitBalanceAfter = debit.balance - posting.amount
  const creditBalanceAfter = credit.balance + posting.amount
  const leg = posting.legIndex === undefined ? {} : { legIndex: posting.legIndex }
  if (debit.ownerKind === "USER" && debitBalanceAfter < playerFloor && posting.allowDebt === true) {
    return Either.left(
      new DebtLimit({
        userId: debit.userId,
        assetCode: posting.assetCode,
        balance: debit.balance,
        amount: posting.amount,
        maxDebt: -playerFloor,
        message: `A debit of ${posting.amount} would take balance ${debit.balance} ${posting.assetCode} below ${playerFloor}, ` +
          `past the asset's debt limit`,
        ...leg
      })
    )
  }
  if (debit.ownerKind === "USER" && debitBalanceAfter < playerFloor) {
    return Either.left(
      new InsufficientFunds({
        userId: debit.userId,
        assetCode: posting.assetCode,
        balance: debit.balance,
        amount: posting.amount,
        message: `Balance ${debit.balance} ${posting.assetCode} is less than ${posting.amount}`,
        ...leg
      })
    )
  }
  if (creditBalanceAfter > MaxAmount) {
    return Either.left(
      new BalanceLimit({
        userId: posting.userId,
        assetCode: posting.assetCode,
        amount: posting.amount,
        message: `A credit of ${posting.amount} would take the balance past ${MaxAmount}`,
        ...leg
      })
    )
  }
  if (debitBalanceAfter < -MaxAmount) {
    return Either.left(
      new BalanceLimit({
        userId: posting.userId,
        assetCode: posting.assetCode,
        amount: posting.amount,
        message: `Issuing ${posting.amount} more ${posting.assetCode} would take the total issued past ${MaxAmount}`,
        ...leg
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

  /**
   * The legs of one transaction, in order, all or none: each leg sees the balances the legs
   * before it left, and the first refused leg undoes the ones before it and is the outcome.
   */
  postAll(postings: ReadonlyArray<Posting>): Either.Either<ReadonlyArray<PostedBalances>, PostingRejection> {
    // Only the wallets these legs touch can change: keep those to undo, not the whole sheet.
    const before = new Map<WalletId, WalletState>()
    for (const posting of postings) {
      for (const id of [posting.debitWalletId, posting.creditWalletId]) {
        if (!before.has(id)) before.set(id, this.wallet(id))
      }
    }
    const posted: Array<PostedBalances> = []
    for (const posting of postings) {
      const outcome = this.post(posting)
      if (Either.isLeft(outcome)) {
        for (const [id, wallet] of before) this.wallets.set(id, wallet)
        return Either.left(outcome.left)
      }
      posted.push(outcome.right)
    }
    return Either.right(posted)
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

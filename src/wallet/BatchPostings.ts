import * as Arr from "effect/Array"
import * as Either from "effect/Either"
import { maySide } from "../domain/AccountRules.ts"
import { type AssetCode, AssetNotFound } from "../domain/Asset.ts"
import { CaptureExceedsHold, HoldNotFound } from "../domain/Hold.ts"
import { TransactionNotFound } from "../domain/Lookup.ts"
import { Amount } from "../domain/Money.ts"
import { type Posting } from "../domain/Posting.ts"
import { NotReversible, ReversibleTypes } from "../domain/Reversal.ts"
import { SameWallet, SystemAccount, TreasuryUserId, type UserId, UserNotFound } from "../domain/User.ts"
import {
  type Command,
  type CaptureCommand,
  type ExpireCommand,
  type HoldCommand,
  type Leg,
  type ReversalCommand,
  type VoidCommand,
  type WriteCommand,
  type WriteRefusal
} from "../domain/Write.ts"
import { type AccountRow, type HoldRow, type OriginalLegRow } from "../ledger/LedgerRepository.ts"

/**
 * What each command of a batch posts, leg by leg, or the first reason it cannot: the accounts,
 * originals and holds the batch read, turned into postings for the pure rules of domain/. No
 * I/O; WriteBatch reads, locks and writes around it.
 */

export const accountKey = (userId: number, assetCode: string) => `${userId}\u0000${assetCode}`

/** The holds a batch settles, locked, as each command of it leaves them. */
export type Holds = Map<string, HoldRow>

/** Every (user, asset) a command names: the wallets it may post to. */
export const accountsOf = (command: Command, holds: Holds): ReadonlyArray<{ readonly userId: UserId; readonly assetCode: AssetCode }> => {
  switch (command._tag) {
    case "Hold":
      return [{ userId: command.userId, assetCode: command.assetCode }]
    case "Capture": {
      const hold = holds.get(command.holdId)
      if (hold === undefined) return []
      return [
        { userId: hold.userId, assetCode: hold.assetCode },
        { userId: command.toUserId ?? TreasuryUserId, assetCode: hold.assetCode }
      ]
    }
    case "Void":
    case "Expire": {
      const hold = holds.get(command.holdId)
      return hold === undefined ? [] : [{ userId: hold.userId, assetCode: hold.assetCode }]
    }
    case "Write":
      return [{ userId: command.userId, assetCode: command.assetCode }]
    case "Transfer":
      return legAccounts(command.leg)
    case "MultiLeg":
      return command.legs.flatMap(legAccounts)
    case "Reversal":
      // The original's wallets, read with it.
      return []
  }
}

const legAccounts = (leg: Leg) => [
  { userId: leg.fromUserId, assetCode: leg.assetCode },
  { userId: leg.toUserId, assetCode: leg.assetCode }
]

export type Accounts = ReadonlyMap<string, AccountRow>

/** The legs of each transaction a command of the batch reverses, by id. */
export type Originals = ReadonlyMap<string, Arr.NonEmptyReadonlyArray<OriginalLegRow>>

/**
 * The original's legs mirrored, each from its receiver back to its sender, or why it cannot be
 * reversed. The amount of a partial reversal is set when the batch knows what is left of it.
 */
const reversalPostings = (
  command: ReversalCommand,
  originals: Originals
): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  const legs = originals.get(command.transactionId)
  if (legs === undefined) return Either.left(TransactionNotFound.of(command.transactionId))
  const original = legs[0]
  if (!ReversibleTypes.has(original.type)) {
    return Either.left(NotReversible.of(command.transactionId, `A ${original.type} transaction is not reversed`))
  }
  const multiLeg = original.transactionAmount === null
  if (multiLeg && command.amount !== null) {
    return Either.left(
      NotReversible.of(command.transactionId, "Only a one-leg transaction is reversed in part: leave out amount to reverse it whole")
    )
  }
  // The original kept the rules, and its mirror keeps them too; checked again all the same,
  // since a reversal must never move the escrow, whatever the ledger holds.
  for (const leg of legs) {
    const legIndex = multiLeg ? leg.legIndex : undefined
    if (!maySide(leg.creditRole, "REVERSAL", "DEBIT")) return Either.left(SystemAccount.of(leg.creditUserId, legIndex))
    if (!maySide(leg.debitRole, "REVERSAL", "CREDIT")) return Either.left(SystemAccount.of(leg.debitUserId, legIndex))
  }
  return Either.right(legs.map((leg) => ({
    type: "REVERSAL" as const,
    userId: leg.debitUserId,
    assetCode: leg.assetCode,
    amount: Amount.make(leg.amount),
    description: command.description,
    debitWalletId: leg.creditWalletId,
    creditWalletId: leg.debitWalletId,
    allowDebt: command.allowDebt,
    ...(multiLeg ? { legIndex: leg.legIndex } : {})
  })))
}

/**
 * What is left of a transaction to reverse, in its own amount (a multi-leg one in units of
 * itself: 1 until reversed), and what this reversal takes of it.
 */
export const reversalShare = (command: ReversalCommand, original: OriginalLegRow, reversed: number) => {
  const reversible = (original.transactionAmount ?? 1) - reversed
  const amount = original.transactionAmount === null ? 1 : command.amount ?? reversible
  return { reversible, amount }
}

/** The player's and the treasury's wallets for a v1 write, or why it cannot be posted. */
const writePostings = (command: WriteCommand, accounts: Accounts): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  const account = accounts.get(accountKey(command.userId, command.assetCode))
  if (account === undefined || account.userRole === null) return Either.left(UserNotFound.of(command.userId))
  if (!account.assetExists) return Either.left(AssetNotFound.of(command.assetCode))
  if (!maySide(account.userRole, command.type, command.type === "SPEND" ? "DEBIT" : "CREDIT")) {
    return Either.left(SystemAccount.of(command.userId))
  }
  if (account.walletId === null || account.treasuryWalletId === null) {
    throw new Error(`Wallets of user ${command.userId} for ${command.assetCode} were not opened`)
  }
  const player = account.walletId, treasury = account.treasuryWalletId
  // Debits come from the player on a spend, from the treasury otherwise.
  return Either.right([{
    type: command.type,
    userId: command.userId,
    assetCode: command.assetCode,
    amount: command.amount,
    description: command.description,
    ...(command.type === "SPEND"
      ? { debitWalletId: player, creditWalletId: treasury }
      : { debitWalletId: treasury, creditWalletId: player })
  }])
}

/**
 * One leg's wallets, or why it cannot be posted, checked in the order a client fixes them:
 * the same user on both sides, then an unknown sender, receiver or asset, then a system
 * account where its rules do not let it be (in a transfer, which is between players, none; in
 * a multi-leg leg, the treasury only).
 */
const legPosting = (
  leg: Leg,
  accounts: Accounts,
  rules: { readonly type: "TRANSFER" | "TRANSACTION"; readonly description: string | null; readonly legIndex?: number }
): Either.Either<Posting, WriteRefusal> => {
  const legIndex = rules.legIndex
  if (leg.fromUserId === leg.toUserId) return Either.left(SameWallet.of(leg.fromUserId, legIndex))
  const from = accounts.get(accountKey(leg.fromUserId, leg.assetCode))
  const to = accounts.get(accountKey(leg.toUserId, leg.assetCode))
  if (from === undefined || from.userRole === null) return Either.left(UserNotFound.of(leg.fromUserId, legIndex))
  if (to === undefined || to.userRole === null) return Either.left(UserNotFound.of(leg.toUserId, legIndex))
  if (!from.assetExists) return Either.left(AssetNotFound.of(leg.assetCode, legIndex))
  if (!maySide(from.userRole, rules.type, "DEBIT")) return Either.left(SystemAccount.of(leg.fromUserId, legIndex))
  if (!maySide(to.userRole, rules.type, "CREDIT")) return Either.left(SystemAccount.of(leg.toUserId, legIndex))
  if (from.walletId === null || to.walletId === null) {
    throw new Error(`Wallets of users ${leg.fromUserId} and ${leg.toUserId} for ${leg.assetCode} were not opened`)
  }
  return Either.right({
    type: rules.type,
    userId: leg.toUserId,
    assetCode: leg.assetCode,
    amount: leg.amount,
    description: rules.description,
    debitWalletId: from.walletId,
    creditWalletId: to.walletId,
    ...(legIndex === undefined ? {} : { legIndex })
  })
}

/** The player's and the escrow's wallets of an asset, opened for every hold command's account. */
const escrowSides = (account: AccountRow) => {
  if (account.walletId === null || account.escrowWalletId === null) {
    throw new Error(`Wallets of user ${account.userId} and the escrow for ${account.assetCode} were not opened`)
  }
  return { player: account.walletId, escrow: account.escrowWalletId }
}

/** A new hold: from the player to the escrow, or why it cannot be posted (as a spend's). */
const holdPostings = (command: HoldCommand, accounts: Accounts): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  const account = accounts.get(accountKey(command.userId, command.assetCode))
  if (account === undefined || account.userRole === null) return Either.left(UserNotFound.of(command.userId))
  if (!account.assetExists) return Either.left(AssetNotFound.of(command.assetCode))
  if (!maySide(account.userRole, "HOLD", "DEBIT")) return Either.left(SystemAccount.of(command.userId))
  const { escrow, player } = escrowSides(account)
  return Either.right([{
    type: "HOLD" as const,
    userId: command.userId,
    assetCode: command.assetCode,
    amount: command.amount,
    description: command.description,
    debitWalletId: player,
    creditWalletId: escrow
  }])
}

/**
 * What settling a hold posts: a capture pays the captured part to its receiver (leg 0) and the
 * rest back to the player (leg 1, when there is a rest); a void or an expiry pays it all back.
 * Whether the hold is still active is decided in order with the batch's other commands.
 */
const settlementPostings = (
  command: CaptureCommand | VoidCommand | ExpireCommand,
  accounts: Accounts,
  holds: Holds
): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  const hold = holds.get(command.holdId)
  if (hold === undefined) return Either.left(HoldNotFound.of(command.holdId))
  const account = accounts.get(accountKey(hold.userId, hold.assetCode))!
  const { escrow, player } = escrowSides(account)
  const back = (amount: number, legIndex?: number): Posting => ({
    type: command._tag === "Capture" ? "CAPTURE" : "RELEASE",
    userId: hold.userId,
    assetCode: hold.assetCode,
    amount: Amount.make(amount),
    description: command.description,
    debitWalletId: escrow,
    creditWalletId: player,
    ...(legIndex === undefined ? {} : { legIndex })
  })
  if (command._tag !== "Capture") return Either.right([back(hold.amount)])
  const toUserId = command.toUserId ?? TreasuryUserId
  const to = accounts.get(accountKey(toUserId, hold.assetCode))
  if (to === undefined || to.userRole === null) return Either.left(UserNotFound.of(toUserId))
  if (!maySide(to.userRole, "CAPTURE", "CREDIT")) return Either.left(SystemAccount.of(toUserId))
  const captured = command.amount ?? hold.amount
  if (captured > hold.amount) return Either.left(CaptureExceedsHold.of(command.holdId, captured, hold.amount))
  if (to.walletId === null) throw new Error(`Wallet of user ${toUserId} for ${hold.assetCode} was not opened`)
  const capture: Posting = {
    type: "CAPTURE",
    userId: toUserId,
    assetCode: hold.assetCode,
    amount: Amount.make(captured),
    description: command.description,
    debitWalletId: escrow,
    creditWalletId: to.walletId,
    legIndex: 0
  }
  return Either.right(captured < hold.amount ? [capture, back(hold.amount - captured, 1)] : [capture])
}

/** What a command posts, leg by leg, or the first reason it cannot. */
export const postingsOf = (
  command: Command,
  accounts: Accounts,
  originals: Originals,
  holds: Holds
): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  switch (command._tag) {
    case "Hold":
      return holdPostings(command, accounts)
    case "Capture":
    case "Void":
    case "Expire":
      return settlementPostings(command, accounts, holds)
    case "Write":
      return writePostings(command, accounts)
    case "Transfer":
      return Either.map(
        legPosting(command.leg, accounts, { type: "TRANSFER", description: command.description }),
        (posting) => [posting]
      )
    case "MultiLeg":
      return Either.all(command.legs.map((leg, legIndex) =>
        legPosting(leg, accounts, { type: "TRANSACTION", description: command.description, legIndex })
      ))
    case "Reversal":
      return reversalPostings(command, originals)
  }
}

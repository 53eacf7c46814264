import * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { type AssetCode, AssetNotFound } from "../domain/Asset.ts"
import { type IdempotencyKey, IdempotencyKeyReused } from "../domain/Idempotency.ts"
import {
  CaptureExceedsHold,
  Hold,
  HoldNotActive,
  HoldNotFound,
  HoldReceipt,
  type HoldStatus,
  isActive,
  SettlementReceipt
} from "../domain/Hold.ts"
import { TransactionNotFound } from "../domain/Lookup.ts"
import { Amount } from "../domain/Money.ts"
import { BalanceSheet, type PostedBalances, type Posting } from "../domain/Posting.ts"
import { AlreadyReversed, NotReversible, ReversalReceipt, ReversibleTypes } from "../domain/Reversal.ts"
import {
  BalanceLimit,
  DebtLimit,
  InsufficientFunds,
  type PostingRejection,
  Receipt,
  TransactionId
} from "../domain/Transaction.ts"
import { MultiLegReceipt, PostedLeg, TransferReceipt } from "../domain/Transfer.ts"
import { SameWallet, SystemAccount, TreasuryUserId, type UserId, UserNotFound } from "../domain/User.ts"
import {
  type AnyReceipt,
  type Command,
  type IdempotencyRecord,
  type CaptureCommand,
  type ExpireCommand,
  type HoldCommand,
  type KeyedCommand,
  type Leg,
  type ReversalCommand,
  type VoidCommand,
  type StoredOutcome,
  type WriteCommand,
  type WriteRefusal,
  WriteResult
} from "../domain/Write.ts"
import {
  type AccountRow,
  type HoldRow,
  type KeyRecord,
  LedgerRepository,
  type OriginalLegRow,
  type TransactionRow
} from "../ledger/LedgerRepository.ts"
import { retryOnConflict } from "./TransactionRetry.ts"

export type WriteExit = Exit.Exit<WriteResult, WriteRefusal>

const encodeReceipt = Schema.encodeSync(Receipt)
const encodeTransferReceipt = Schema.encodeSync(TransferReceipt)
const encodeMultiLegReceipt = Schema.encodeSync(MultiLegReceipt)
const encodeReversalReceipt = Schema.encodeSync(ReversalReceipt)
const encodeRefusal = Schema.encodeSync(Schema.Union(InsufficientFunds, BalanceLimit, DebtLimit, AlreadyReversed, HoldNotActive))
const encodeHoldReceipt = Schema.encodeSync(HoldReceipt)
const encodeSettlementReceipt = Schema.encodeSync(SettlementReceipt)

/** The stored outcome of each refusal final for its request. */
const storedOutcomeOf = {
  HoldNotActive: "HOLD_NOT_ACTIVE",
  InsufficientFunds: "INSUFFICIENT_FUNDS",
  BalanceLimit: "BALANCE_LIMIT",
  DebtLimit: "DEBT_LIMIT",
  AlreadyReversed: "ALREADY_REVERSED"
} as const satisfies Record<string, StoredOutcome>

const accountKey = (userId: number, assetCode: string) => `${userId}\u0000${assetCode}`

/** The holds a batch settles, locked, as each command of it leaves them. */
type Holds = Map<string, HoldRow>

/** Every (user, asset) a command names: the wallets it may post to. */
const accountsOf = (command: Command, holds: Holds): ReadonlyArray<{ readonly userId: UserId; readonly assetCode: AssetCode }> => {
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

type Accounts = ReadonlyMap<string, AccountRow>

/** The legs of each transaction a command of the batch reverses, by id. */
type Originals = ReadonlyMap<string, Arr.NonEmptyReadonlyArray<OriginalLegRow>>

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
const reversalShare = (command: ReversalCommand, original: OriginalLegRow, reversed: number) => {
  const reversible = (original.transactionAmount ?? 1) - reversed
  const amount = original.transactionAmount === null ? 1 : command.amount ?? reversible
  return { reversible, amount }
}

/** The player's and the treasury's wallets for a v1 write, or why it cannot be posted. */
const writePostings = (command: WriteCommand, accounts: Accounts): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  const account = accounts.get(accountKey(command.userId, command.assetCode))
  if (account === undefined || account.userKind === null) return Either.left(UserNotFound.of(command.userId))
  if (!account.assetExists) return Either.left(AssetNotFound.of(command.assetCode))
  if (account.userKind === "SYSTEM") return Either.left(SystemAccount.of(command.userId))
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
 * the same user on both sides, then an unknown sender, receiver or asset, then (for a
 * transfer, which is between players) a system account on either side.
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
  if (from === undefined || from.userKind === null) return Either.left(UserNotFound.of(leg.fromUserId, legIndex))
  if (to === undefined || to.userKind === null) return Either.left(UserNotFound.of(leg.toUserId, legIndex))
  if (!from.assetExists) return Either.left(AssetNotFound.of(leg.assetCode, legIndex))
  if (rules.type === "TRANSFER") {
    if (from.userKind === "SYSTEM") return Either.left(SystemAccount.of(leg.fromUserId))
    if (to.userKind === "SYSTEM") return Either.left(SystemAccount.of(leg.toUserId))
  }
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
  if (account === undefined || account.userKind === null) return Either.left(UserNotFound.of(command.userId))
  if (!account.assetExists) return Either.left(AssetNotFound.of(command.assetCode))
  if (account.userKind === "SYSTEM") return Either.left(SystemAccount.of(command.userId))
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
  if (to === undefined || to.userKind === null) return Either.left(UserNotFound.of(toUserId))
  if (toUserId === account.escrowUserId) return Either.left(SystemAccount.of(toUserId))
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
const postingsOf = (
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

/** The row a command writes and the receipt it answers, from its legs' balances after each. */
const applied = (
  command: Command,
  postings: ReadonlyArray<Posting>,
  balances: ReadonlyArray<PostedBalances>,
  transactionId: TransactionId,
  createdAt: Date,
  originals: Originals,
  holds: Holds
): { readonly row: TransactionRow; readonly receipt: AnyReceipt; readonly body: unknown } => {
  const legs = postings.map((posting, i) => ({
    assetCode: posting.assetCode,
    amount: posting.amount,
    debitWalletId: posting.debitWalletId,
    debitBalanceAfter: balances[i]!.debitBalanceAfter,
    creditWalletId: posting.creditWalletId,
    creditBalanceAfter: balances[i]!.creditBalanceAfter
  }))
  const common = { description: command.description, metadata: command.metadata }
  // Kept on the transaction, never in the receipt: who wrote it is the lookups' to show.
  const createdBy = command.createdBy
  const reverses = null
  // Receipts are built from values the edge and the database have already checked: skip
  // re-validating them on every one of a batch's thousand receipts.
  switch (command._tag) {
    case "Write": {
      const receipt = new Receipt({
        transactionId,
        type: command.type,
        userId: command.userId,
        assetCode: command.assetCode,
        amount: command.amount,
        balance: command.type === "SPEND" ? legs[0]!.debitBalanceAfter : legs[0]!.creditBalanceAfter,
        ...common,
        createdAt
      }, true)
      const row = {
        id: transactionId,
        type: command.type,
        assetCode: command.assetCode,
        amount: command.amount,
        ...common,
        legs,
        createdBy,
        reverses
      }
      return { row, receipt, body: encodeReceipt(receipt) }
    }
    case "Transfer": {
      const receipt = new TransferReceipt({
        transactionId,
        type: "TRANSFER",
        ...command.leg,
        fromBalance: legs[0]!.debitBalanceAfter,
        toBalance: legs[0]!.creditBalanceAfter,
        ...common,
        createdAt
      }, true)
      const row = {
        id: transactionId,
        type: "TRANSFER" as const,
        assetCode: command.leg.assetCode,
        amount: command.leg.amount,
        ...common,
        legs,
        createdBy,
        reverses
      }
      return { row, receipt, body: encodeTransferReceipt(receipt) }
    }
    case "MultiLeg": {
      const receipt = new MultiLegReceipt({
        transactionId,
        type: "TRANSACTION",
        legs: command.legs.map((leg, i) =>
          new PostedLeg({ ...leg, fromBalance: legs[i]!.debitBalanceAfter, toBalance: legs[i]!.creditBalanceAfter }, true)
        ),
        ...common,
        createdAt
      }, true)
      // Several assets and amounts: the transaction has none of its own, its legs carry them.
      const row = { id: transactionId, type: "TRANSACTION" as const, assetCode: null, amount: null, ...common, legs, createdBy, reverses }
      return { row, receipt, body: encodeMultiLegReceipt(receipt) }
    }
    case "Hold": {
      const hold = holds.get(command.holdId)!
      const receipt = new HoldReceipt({ ...holdOf(hold), balance: legs[0]!.debitBalanceAfter, ...common }, true)
      const row = {
        id: transactionId,
        type: "HOLD" as const,
        assetCode: command.assetCode,
        amount: command.amount,
        ...common,
        legs,
        createdBy,
        reverses
      }
      return { row, receipt, body: encodeHoldReceipt(receipt) }
    }
    case "Capture":
    case "Void":
    case "Expire": {
      const hold = holds.get(command.holdId)!
      const type = command._tag === "Capture" ? "CAPTURE" as const : "RELEASE" as const
      const receipt = new SettlementReceipt({
        hold: holdOf(hold),
        transactionId,
        type,
        legs: postings.map((posting, i) =>
          new PostedLeg({
            fromUserId: hold.escrowUserId,
            toUserId: posting.userId,
            assetCode: posting.assetCode,
            amount: posting.amount,
            fromBalance: legs[i]!.debitBalanceAfter,
            toBalance: legs[i]!.creditBalanceAfter
          }, true)
        ),
        ...common,
        createdAt
      }, true)
      // A release returns the hold's amount; a capture may be two legs, with no amount of its own.
      const row = {
        id: transactionId,
        type,
        assetCode: type === "RELEASE" ? hold.assetCode : null,
        amount: type === "RELEASE" ? hold.amount : null,
        ...common,
        legs,
        createdBy,
        reverses
      }
      return { row, receipt, body: encodeSettlementReceipt(receipt) }
    }
    case "Reversal": {
      const original = originals.get(command.transactionId)!
      const receipt = new ReversalReceipt({
        transactionId,
        type: "REVERSAL",
        reverses: command.transactionId,
        legs: postings.map((posting, i) =>
          new PostedLeg({
            fromUserId: original[i]!.creditUserId,
            toUserId: original[i]!.debitUserId,
            assetCode: posting.assetCode,
            amount: posting.amount,
            fromBalance: legs[i]!.debitBalanceAfter,
            toBalance: legs[i]!.creditBalanceAfter
          }, true)
        ),
        ...common,
        createdAt
      }, true)
      // A reversal of a one-leg transaction keeps its asset and the amount reversed, as its original.
      const oneLeg = original[0].transactionAmount !== null
      const row = {
        id: transactionId,
        type: "REVERSAL" as const,
        assetCode: oneLeg ? postings[0]!.assetCode : null,
        amount: oneLeg ? postings[0]!.amount : null,
        ...common,
        legs,
        createdBy,
        reverses: command.transactionId
      }
      return { row, receipt, body: encodeReversalReceipt(receipt) }
    }
  }
}

/** A hold as its row stands. */
const holdOf = (row: HoldRow) =>
  new Hold({
    holdId: row.id,
    status: row.status,
    userId: row.userId,
    assetCode: row.assetCode,
    amount: Amount.make(row.amount),
    capturedAmount: row.capturedAmount,
    expiresAt: row.expiresAt,
    createdAt: row.createdAt,
    transactionId: row.holdTransactionId,
    settlementTransactionId: row.settlementTransactionId,
    settledAt: row.settledAt
  }, true)

const replayOf = (command: KeyedCommand, record: IdempotencyRecord): WriteExit =>
  record.fingerprint === command.fingerprint
    ? Exit.succeed(WriteResult.Replayed({ outcome: record.outcome, body: record.responseBody, requestId: record.requestId }))
    : Exit.fail(IdempotencyKeyReused.of(command.idempotencyKey))

/**
 * Commits a batch of writes (v1 writes, transfers, multi-leg transactions) as ONE database
 * transaction with a constant number of statements, whatever its size and its number of legs:
 * claim every key, read the records of keys already used, find the accounts (opening missing
 * wallets), lock every wallet in ascending id order, apply each command's legs in order in
 * memory with the pure rules of domain/, and write everything in one statement. Each command
 * keeps its own outcome, exactly as if the commands had come one after another: a refused
 * command fails alone (all its legs undone), and a key met twice is applied by its first
 * command and replayed (or refused as reused) for the later ones.
 *
 * Infrastructure failures are defects of the whole batch; the committer decides what to do.
 */
export const commitBatch = Effect.fn("WriteBatch.commit")(
  function*(commands: Arr.NonEmptyReadonlyArray<Command>) {
    const ledger = yield* LedgerRepository
    const firstByKey = new Map<string, KeyedCommand>()
    for (const command of commands) {
      if (command._tag !== "Expire" && !firstByKey.has(command.idempotencyKey)) firstByKey.set(command.idempotencyKey, command)
    }
    const claims = Array.from(firstByKey.values(), (c) => ({ key: c.idempotencyKey, fingerprint: c.fingerprint }))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    const claimedKeys = claims.length === 0 ? { createdAt: undefined, keys: new Set<IdempotencyKey>() } : yield* ledger.claimKeys(claims)
    const claimed = claimedKeys.keys
    // A batch of expiries only claims no key: it reads its transaction's time on its own.
    const createdAt = claimedKeys.createdAt ?? (yield* ledger.transactionTime)
    const usedKeys = claims.filter((claim) => !claimed.has(claim.key)).map((claim) => claim.key)
    const stored = usedKeys.length === 0 ? new Map<string, IdempotencyRecord>() : yield* ledger.storedRecords(usedKeys)

    // Only commands under a key this batch holds can post; the others replay. Expiries have none.
    const posting = commands.filter((command) => command._tag === "Expire" || claimed.has(command.idempotencyKey))
    const reversing = Arr.dedupe(posting.flatMap((command) => command._tag === "Reversal" ? [command.transactionId] : []))
    const originals = new Map<string, Arr.NonEmptyReadonlyArray<OriginalLegRow>>()
    if (reversing.length > 0) {
      for (const leg of yield* ledger.findOriginals(reversing)) {
        const legs = originals.get(leg.transactionId)
        originals.set(leg.transactionId, legs === undefined ? [leg] : [...legs, leg])
      }
    }
    // Holds are locked before wallets, in ascending id order, by every batch: a capture and a
    // void of one hold in two processes queue on its row, and the second sees it settled.
    const settling = Arr.dedupe(
      posting.flatMap((command) => command._tag === "Capture" || command._tag === "Void" || command._tag === "Expire" ? [command.holdId] : [])
    ).sort()
    const holds: Holds = new Map((settling.length === 0 ? [] : yield* ledger.lockHolds(settling)).map((row) => [row.id, row]))
    const escrowAssets = new Set(
      posting.flatMap((command) =>
        command._tag === "Hold" || command._tag === "Capture" || command._tag === "Void" || command._tag === "Expire"
          ? accountsOf(command, holds).map((account) => account.assetCode)
          : []
      )
    )
    const accounts = new Map<string, AccountRow>()
    const wanted = Arr.dedupeWith(
      posting.flatMap((command) => accountsOf(command, holds)),
      (a, b) => a.userId === b.userId && a.assetCode === b.assetCode
    )
    if (wanted.length > 0) {
      let rows = yield* ledger.findAccounts(wanted)
      const unopened = Arr.dedupeWith(
        rows.flatMap((row) =>
          row.userKind !== null && row.assetExists
            ? [
              ...(row.walletId === null ? [{ userId: row.userId, ownerKind: row.userKind, assetCode: row.assetCode }] : []),
              ...(row.treasuryWalletId === null
                ? [{ userId: TreasuryUserId, ownerKind: "SYSTEM" as const, assetCode: row.assetCode }]
                : []),
              ...(row.escrowWalletId === null && row.escrowUserId !== null && escrowAssets.has(row.assetCode)
                ? [{ userId: row.escrowUserId, ownerKind: "SYSTEM" as const, assetCode: row.assetCode }]
                : [])
            ]
            : []
        ),
        (a, b) => a.userId === b.userId && a.assetCode === b.assetCode
      )
      if (unopened.length > 0) {
        yield* ledger.openWallets(unopened)
        rows = yield* ledger.findAccounts(wanted)
      }
      for (const row of rows) accounts.set(accountKey(row.userId, row.assetCode), row)
    }

    const postingsByCommand = new Map(posting.map((c) => [c, postingsOf(c, accounts, originals, holds)]))
    const walletIds = Arr.dedupe(
      Array.from(postingsByCommand.values()).flatMap((p) =>
        Either.isRight(p) ? p.right.flatMap((leg) => [leg.debitWalletId, leg.creditWalletId]) : []
      )
    ).sort((a, b) => a - b)
    const locked = walletIds.length === 0 ? [] : yield* ledger.lockWallets(walletIds)
    // Read under the wallets' locks, which every reversal of the same transaction takes too.
    const reversed = new Map(reversing.length === 0 ? [] : yield* ledger.reversedAmounts(reversing))

    // Decide every command in order. A key's record, once written by a command of this
    // batch, answers the later commands under the same key.
    const sheet = new BalanceSheet(locked)
    const records = new Map<string, IdempotencyRecord>(stored)
    const written: Array<KeyRecord> = []
    const transactions: Array<TransactionRow> = []
    const newHolds: Array<HoldRow> = []
    const settled: Array<HoldRow> = []
    const decided = commands.map((command): WriteExit => {
      if (command._tag !== "Expire") {
        const record = records.get(command.idempotencyKey)
        if (record !== undefined) return replayOf(command, record)
      }
      const postings = postingsByCommand.get(command)
      if (postings === undefined) throw new Error(`A command is neither claimed nor recorded`)
      if (Either.isLeft(postings)) return Exit.fail(postings.left)
      const keep = (outcome: StoredOutcome, responseBody: unknown, transactionId: TransactionId | null) => {
        // An expiry has no key, and nothing to keep.
        if (command._tag === "Expire") return
        const record = { fingerprint: command.fingerprint, outcome, responseBody, requestId: command.requestId }
        records.set(command.idempotencyKey, record)
        written.push({ key: command.idempotencyKey, ...record, transactionId })
      }
      const refuse = (rejection: PostingRejection | AlreadyReversed | HoldNotActive) => {
        keep(storedOutcomeOf[rejection._tag], encodeRefusal(rejection), null)
        return Exit.fail(rejection)
      }
      let legs = postings.right
      let reversing = 0
      if (command._tag === "Reversal") {
        // What is left to reverse changes with each reversal of the batch, in order.
        const original = originals.get(command.transactionId)![0]
        const { amount, reversible } = reversalShare(command, original, reversed.get(command.transactionId) ?? 0)
        if (reversible === 0 || amount > reversible) return refuse(AlreadyReversed.of(command.transactionId, reversible, amount))
        if (original.transactionAmount !== null) legs = legs.map((leg) => ({ ...leg, amount: Amount.make(amount) }))
        reversing = amount
      }
      if (command._tag === "Capture" || command._tag === "Void") {
        const hold = holds.get(command.holdId)!
        if (!isActive(hold, createdAt)) return refuse(HoldNotActive.of(hold.id, hold.status))
      }
      if (command._tag === "Expire") {
        const hold = holds.get(command.holdId)!
        // Settled already (by a capture, a void, or another process's expiry), or not yet due.
        if (hold.status !== "HELD" || isActive(hold, createdAt)) return Exit.fail(HoldNotActive.of(hold.id, hold.status))
      }
      const outcome = sheet.postAll(legs)
      if (Either.isLeft(outcome)) return refuse(outcome.left)
      if (command._tag === "Reversal") {
        reversed.set(command.transactionId, (reversed.get(command.transactionId) ?? 0) + reversing)
      }
      const transactionId = TransactionId.make(randomUUID(), true)
      switch (command._tag) {
        case "Hold": {
          const account = accounts.get(accountKey(command.userId, command.assetCode))!
          const hold: HoldRow = {
            id: command.holdId,
            userId: command.userId,
            assetCode: command.assetCode,
            amount: command.amount,
            capturedAmount: 0,
            status: "HELD",
            expiresAt: new Date(createdAt.getTime() + command.expiresInSeconds * 1000),
            createdAt,
            holdTransactionId: transactionId,
            settlementTransactionId: null,
            settledAt: null,
            escrowUserId: account.escrowUserId!
          }
          holds.set(hold.id, hold)
          newHolds.push(hold)
          break
        }
        case "Capture":
        case "Void":
        case "Expire": {
          const hold = holds.get(command.holdId)!
          const captured = command._tag === "Capture" ? legs[0]!.amount : 0
          const status: HoldStatus = command._tag === "Capture" ? "CAPTURED" : command._tag === "Void" ? "VOIDED" : "EXPIRED"
          const after: HoldRow = { ...hold, status, capturedAmount: captured, settlementTransactionId: transactionId, settledAt: createdAt }
          holds.set(hold.id, after)
          settled.push(after)
          break
        }
      }
      const { body, receipt, row } = applied(command, legs, outcome.right, transactionId, createdAt, originals, holds)
      transactions.push(row)
      keep("APPLIED", body, transactionId)
      return Exit.succeed(WriteResult.Applied({ receipt }))
    })
    const freedKeys = Array.from(claimed).filter((key) => !written.some((record) => record.key === key))
    yield* ledger.writeBatch({ transactions, balances: sheet.balances(), records: written, freedKeys, newHolds, settled })
    return decided
  },
  (batch, commands) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(batch)).pipe(
      retryOnConflict,
      Effect.catchTag("SqlError", Effect.die),
      Effect.withSpan("WriteBatch.size", { attributes: { commands: commands.length } })
    )
)

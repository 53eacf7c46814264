import * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { type AssetCode, AssetNotFound } from "../domain/Asset.ts"
import { IdempotencyKeyReused } from "../domain/Idempotency.ts"
import { BalanceSheet, type PostedBalances, type Posting } from "../domain/Posting.ts"
import { BalanceLimit, InsufficientFunds, Receipt, TransactionId } from "../domain/Transaction.ts"
import { MultiLegReceipt, PostedLeg, TransferReceipt } from "../domain/Transfer.ts"
import { SameWallet, SystemAccount, TreasuryUserId, type UserId, UserNotFound } from "../domain/User.ts"
import {
  type AnyReceipt,
  type Command,
  type IdempotencyRecord,
  type Leg,
  type StoredOutcome,
  type WriteCommand,
  type WriteRefusal,
  WriteResult
} from "../domain/Write.ts"
import { type AccountRow, type KeyRecord, LedgerRepository, type TransactionRow } from "../ledger/LedgerRepository.ts"
import { retryOnConflict } from "./TransactionRetry.ts"

export type WriteExit = Exit.Exit<WriteResult, WriteRefusal>

const encodeReceipt = Schema.encodeSync(Receipt)
const encodeTransferReceipt = Schema.encodeSync(TransferReceipt)
const encodeMultiLegReceipt = Schema.encodeSync(MultiLegReceipt)
const encodeRefusal = Schema.encodeSync(Schema.Union(InsufficientFunds, BalanceLimit))

const accountKey = (userId: number, assetCode: string) => `${userId}\u0000${assetCode}`

/** Every (user, asset) a command names: the wallets it may post to. */
const accountsOf = (command: Command): ReadonlyArray<{ readonly userId: UserId; readonly assetCode: AssetCode }> => {
  switch (command._tag) {
    case "Write":
      return [{ userId: command.userId, assetCode: command.assetCode }]
    case "Transfer":
      return legAccounts(command.leg)
    case "MultiLeg":
      return command.legs.flatMap(legAccounts)
  }
}

const legAccounts = (leg: Leg) => [
  { userId: leg.fromUserId, assetCode: leg.assetCode },
  { userId: leg.toUserId, assetCode: leg.assetCode }
]

type Accounts = ReadonlyMap<string, AccountRow>

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

/** What a command posts, leg by leg, or the first reason it cannot. */
const postingsOf = (command: Command, accounts: Accounts): Either.Either<ReadonlyArray<Posting>, WriteRefusal> => {
  switch (command._tag) {
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
  }
}

/** The row a command writes and the receipt it answers, from its legs' balances after each. */
const applied = (
  command: Command,
  postings: ReadonlyArray<Posting>,
  balances: ReadonlyArray<PostedBalances>,
  transactionId: TransactionId,
  createdAt: Date
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
      const row = { id: transactionId, type: command.type, assetCode: command.assetCode, amount: command.amount, ...common, legs, createdBy }
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
        createdBy
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
      const row = { id: transactionId, type: "TRANSACTION" as const, assetCode: null, amount: null, ...common, legs, createdBy }
      return { row, receipt, body: encodeMultiLegReceipt(receipt) }
    }
  }
}

const replayOf = (command: Command, record: IdempotencyRecord): WriteExit =>
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
    const firstByKey = new Map<string, Command>()
    for (const command of commands) {
      if (!firstByKey.has(command.idempotencyKey)) firstByKey.set(command.idempotencyKey, command)
    }
    const claims = Array.from(firstByKey.values(), (c) => ({ key: c.idempotencyKey, fingerprint: c.fingerprint }))
      .sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    const { createdAt, keys: claimed } = yield* ledger.claimKeys(claims)
    const usedKeys = claims.filter((claim) => !claimed.has(claim.key)).map((claim) => claim.key)
    const stored = usedKeys.length === 0 ? new Map<string, IdempotencyRecord>() : yield* ledger.storedRecords(usedKeys)

    // Only commands under a key this batch holds can post; the others replay.
    const posting = commands.filter((command) => claimed.has(command.idempotencyKey))
    const accounts = new Map<string, AccountRow>()
    if (Arr.isNonEmptyReadonlyArray(posting)) {
      const wanted = Arr.dedupeWith(
        posting.flatMap(accountsOf),
        (a, b) => a.userId === b.userId && a.assetCode === b.assetCode
      )
      let rows = yield* ledger.findAccounts(wanted)
      const unopened = Arr.dedupeWith(
        rows.flatMap((row) =>
          row.userKind !== null && row.assetExists
            ? [
              ...(row.walletId === null ? [{ userId: row.userId, ownerKind: row.userKind, assetCode: row.assetCode }] : []),
              ...(row.treasuryWalletId === null
                ? [{ userId: TreasuryUserId, ownerKind: "SYSTEM" as const, assetCode: row.assetCode }]
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

    const postingsByCommand = new Map(posting.map((c) => [c, postingsOf(c, accounts)]))
    const walletIds = Arr.dedupe(
      Array.from(postingsByCommand.values()).flatMap((p) =>
        Either.isRight(p) ? p.right.flatMap((leg) => [leg.debitWalletId, leg.creditWalletId]) : []
      )
    ).sort((a, b) => a - b)
    const locked = walletIds.length === 0 ? [] : yield* ledger.lockWallets(walletIds)

    // Decide every command in order. A key's record, once written by a command of this
    // batch, answers the later commands under the same key.
    const sheet = new BalanceSheet(locked)
    const records = new Map<string, IdempotencyRecord>(stored)
    const written: Array<KeyRecord> = []
    const transactions: Array<TransactionRow> = []
    const decided = commands.map((command): WriteExit => {
      const record = records.get(command.idempotencyKey)
      if (record !== undefined) return replayOf(command, record)
      const postings = postingsByCommand.get(command)
      if (postings === undefined) throw new Error(`Key ${command.idempotencyKey} is neither claimed nor recorded`)
      if (Either.isLeft(postings)) return Exit.fail(postings.left)
      const outcome = sheet.postAll(postings.right)
      const keep = (outcome: StoredOutcome, responseBody: unknown, transactionId: TransactionId | null) => {
        const record = { fingerprint: command.fingerprint, outcome, responseBody, requestId: command.requestId }
        records.set(command.idempotencyKey, record)
        written.push({ key: command.idempotencyKey, ...record, transactionId })
      }
      if (Either.isLeft(outcome)) {
        const rejection = outcome.left
        keep(rejection._tag === "InsufficientFunds" ? "INSUFFICIENT_FUNDS" : "BALANCE_LIMIT", encodeRefusal(rejection), null)
        return Exit.fail(rejection)
      }
      const transactionId = TransactionId.make(randomUUID(), true)
      // Claimed keys exist whenever a command posts, and they carry the transaction's time.
      const { body, receipt, row } = applied(command, postings.right, outcome.right, transactionId, createdAt!)
      transactions.push(row)
      keep("APPLIED", body, transactionId)
      return Exit.succeed(WriteResult.Applied({ receipt }))
    })
    const freedKeys = Array.from(claimed).filter((key) => !written.some((record) => record.key === key))
    yield* ledger.writeBatch({ transactions, balances: sheet.balances(), records: written, freedKeys })
    return decided
  },
  (batch, commands) =>
    Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(batch)).pipe(
      retryOnConflict,
      Effect.catchTag("SqlError", Effect.die),
      Effect.withSpan("WriteBatch.size", { attributes: { commands: commands.length } })
    )
)

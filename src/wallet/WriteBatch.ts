import * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import { randomUUID } from "node:crypto"
import { AssetNotFound } from "../domain/Asset.ts"
import { IdempotencyKeyReused } from "../domain/Idempotency.ts"
import { BalanceSheet, type Posting, type WalletId } from "../domain/Posting.ts"
import { BalanceLimit, InsufficientFunds, Receipt, TransactionId } from "../domain/Transaction.ts"
import { SystemAccount, TreasuryUserId, UserNotFound } from "../domain/User.ts"
import {
  type IdempotencyRecord,
  type StoredOutcome,
  type WriteCommand,
  type WriteRefusal,
  WriteResult
} from "../domain/Write.ts"
import { type AccountRow, type KeyRecord, LedgerRepository, type TransactionRow } from "../ledger/LedgerRepository.ts"
import { retryOnConflict } from "./TransactionRetry.ts"

export type WriteExit = Exit.Exit<WriteResult, WriteRefusal>

const encodeReceipt = Schema.encodeSync(Receipt)
const encodeRefusal = Schema.encodeSync(Schema.Union(InsufficientFunds, BalanceLimit))

const accountKey = (userId: number, assetCode: string) => `${userId}\u0000${assetCode}`

/** The player's and the treasury's wallets for a command, or why the command cannot be posted. */
const walletsOf = (
  command: WriteCommand,
  account: AccountRow | undefined
): Either.Either<{ readonly player: WalletId; readonly treasury: WalletId }, WriteRefusal> => {
  if (account === undefined || account.userKind === null) return Either.left(UserNotFound.of(command.userId))
  if (!account.assetExists) return Either.left(AssetNotFound.of(command.assetCode))
  if (account.userKind === "SYSTEM") return Either.left(SystemAccount.of(command.userId))
  if (account.walletId === null || account.treasuryWalletId === null) {
    throw new Error(`Wallets of user ${command.userId} for ${command.assetCode} were not opened`)
  }
  return Either.right({ player: account.walletId, treasury: account.treasuryWalletId })
}

/** Debits come from the player on a spend, from the treasury otherwise. */
const postingOf = (command: WriteCommand, wallets: { readonly player: WalletId; readonly treasury: WalletId }): Posting => ({
  type: command.type,
  userId: command.userId,
  assetCode: command.assetCode,
  amount: command.amount,
  description: command.description,
  ...(command.type === "SPEND"
    ? { debitWalletId: wallets.player, creditWalletId: wallets.treasury }
    : { debitWalletId: wallets.treasury, creditWalletId: wallets.player })
})

const replayOf = (command: WriteCommand, record: IdempotencyRecord): WriteExit =>
  record.fingerprint === command.fingerprint
    ? Exit.succeed(WriteResult.Replayed({ outcome: record.outcome, body: record.responseBody, requestId: record.requestId }))
    : Exit.fail(IdempotencyKeyReused.of(command.idempotencyKey))

/**
 * Commits a batch of writes as ONE database transaction with a constant number of statements,
 * whatever its size: claim every key, read the records of keys already used, find the
 * accounts (opening missing wallets), lock every wallet in ascending id order, apply the
 * postings in order in memory with the pure rules of domain/, and write everything in one
 * statement. Each command keeps its own outcome, exactly as if the commands had come one after
 * another: a refused posting fails alone, and a key met twice is applied by its first command
 * and replayed (or refused as reused) for the later ones.
 *
 * Infrastructure failures are defects of the whole batch; the committer decides what to do.
 */
export const commitBatch = Effect.fn("WriteBatch.commit")(
  function*(commands: Arr.NonEmptyReadonlyArray<WriteCommand>) {
    const ledger = yield* LedgerRepository
    const firstByKey = new Map<string, WriteCommand>()
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
        posting.map((c) => ({ userId: c.userId, assetCode: c.assetCode })),
        (a, b) => a.userId === b.userId && a.assetCode === b.assetCode
      )
      let rows = yield* ledger.findAccounts(wanted)
      const unopened = Arr.dedupeWith(
        rows.flatMap((row) =>
          row.userKind === "USER" && row.assetExists
            ? [
              ...(row.walletId === null ? [{ userId: row.userId, ownerKind: "USER" as const, assetCode: row.assetCode }] : []),
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

    const walletsByCommand = new Map(posting.map((c) => [c, walletsOf(c, accounts.get(accountKey(c.userId, c.assetCode)))]))
    const walletIds = Arr.dedupe(
      Array.from(walletsByCommand.values()).flatMap((w) => Either.isRight(w) ? [w.right.player, w.right.treasury] : [])
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
      const wallets = walletsByCommand.get(command)
      if (wallets === undefined) throw new Error(`Key ${command.idempotencyKey} is neither claimed nor recorded`)
      if (Either.isLeft(wallets)) return Exit.fail(wallets.left)
      const posting = postingOf(command, wallets.right)
      const outcome = sheet.post(posting)
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
      // Built from values the edge and the database have already checked: skip re-validating
      // them on every one of a batch's thousand receipts.
      const transactionId = TransactionId.make(randomUUID(), true)
      transactions.push({
        id: transactionId,
        type: command.type,
        assetCode: command.assetCode,
        amount: command.amount,
        description: command.description,
        metadata: command.metadata,
        debitWalletId: posting.debitWalletId,
        debitBalanceAfter: outcome.right.debitBalanceAfter,
        creditWalletId: posting.creditWalletId,
        creditBalanceAfter: outcome.right.creditBalanceAfter,
        createdBy: command.createdBy
      })
      const receipt = new Receipt({
        transactionId,
        type: command.type,
        userId: command.userId,
        assetCode: command.assetCode,
        amount: command.amount,
        balance: command.type === "SPEND" ? outcome.right.debitBalanceAfter : outcome.right.creditBalanceAfter,
        description: command.description,
        metadata: command.metadata,
        // Claimed keys exist whenever a command posts, and they carry the transaction's time.
        createdAt: createdAt!
      }, true)
      keep("APPLIED", encodeReceipt(receipt), transactionId)
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

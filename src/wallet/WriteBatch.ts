import * as SqlClient from "@effect/sql/SqlClient"
import * as Arr from "effect/Array"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import type * as Tracer from "effect/Tracer"
import { randomUUID } from "node:crypto"
import { type IdempotencyKey, IdempotencyKeyReused } from "../domain/Idempotency.ts"
import { HoldNotActive, type HoldStatus, isActive } from "../domain/Hold.ts"
import { Amount } from "../domain/Money.ts"
import { BalanceSheet } from "../domain/Posting.ts"
import { AlreadyReversed } from "../domain/Reversal.ts"
import {
  BalanceLimit,
  DebtLimit,
  InsufficientFunds,
  type PostingRejection,
  TransactionId
} from "../domain/Transaction.ts"
import { TreasuryUserId } from "../domain/User.ts"
import {
  type Command,
  type IdempotencyRecord,
  type KeyedCommand,
  type StoredOutcome,
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
import { accountKey, accountsOf, type Holds, postingsOf, reversalShare } from "./BatchPostings.ts"
import { applied } from "./BatchReceipts.ts"

export type WriteExit = Exit.Exit<WriteResult, WriteRefusal>

const encodeRefusal = Schema.encodeSync(Schema.Union(InsufficientFunds, BalanceLimit, DebtLimit, AlreadyReversed, HoldNotActive))

/** The stored outcome of each refusal final for its request. */
const storedOutcomeOf = {
  HoldNotActive: "HOLD_NOT_ACTIVE",
  InsufficientFunds: "INSUFFICIENT_FUNDS",
  BalanceLimit: "BALANCE_LIMIT",
  DebtLimit: "DEBT_LIMIT",
  AlreadyReversed: "ALREADY_REVERSED"
} as const satisfies Record<string, StoredOutcome>


/**
 * The items with distinct keys, the first of each kept, in order: one pass over a Map. (Effect's
 * Array.dedupe and dedupeWith compare every pair, and a bulk request's thousand commands name
 * two thousand wallets: millions of comparisons per batch.)
 */
const distinctBy = <A>(items: ReadonlyArray<A>, keyOf: (item: A) => string | number): Array<A> => {
  const seen = new Map<string | number, A>()
  for (const item of items) {
    const key = keyOf(item)
    if (!seen.has(key)) seen.set(key, item)
  }
  return Array.from(seen.values())
}

const replayOf = (command: KeyedCommand, record: IdempotencyRecord): WriteExit =>
  record.fingerprint === command.fingerprint
    ? Exit.succeed(WriteResult.Replayed({ outcome: record.outcome, body: record.responseBody, requestId: record.requestId }))
    : Exit.fail(IdempotencyKeyReused.of(command.idempotencyKey))

/**
 * What a batch of writes (v1 writes, transfers, multi-leg transactions) does in its ONE
 * database transaction, with a constant number of statements, whatever its size and its number of legs:
 * claim every key, read the records of keys already used, find the accounts (opening missing
 * wallets), lock every wallet in ascending id order, apply each command's legs in order in
 * memory with the pure rules of domain/, and write everything in one statement. Each command
 * keeps its own outcome, exactly as if the commands had come one after another: a refused
 * command fails alone (all its legs undone), and a key met twice is applied by its first
 * command and replayed (or refused as reused) for the later ones.
 *
 * Infrastructure failures are defects of the whole batch; the committer decides what to do.
 */
const decideAndWrite = Effect.fnUntraced(
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
    const reversing = distinctBy(posting.flatMap((command) => command._tag === "Reversal" ? [command.transactionId] : []), String)
    const originals = new Map<string, Arr.NonEmptyReadonlyArray<OriginalLegRow>>()
    if (reversing.length > 0) {
      for (const leg of yield* ledger.findOriginals(reversing)) {
        const legs = originals.get(leg.transactionId)
        originals.set(leg.transactionId, legs === undefined ? [leg] : [...legs, leg])
      }
    }
    // Holds are locked before wallets, in ascending id order, by every batch: a capture and a
    // void of one hold in two processes queue on its row, and the second sees it settled.
    const settling = distinctBy(
      posting.flatMap((command) => command._tag === "Capture" || command._tag === "Void" || command._tag === "Expire" ? [command.holdId] : []),
      String
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
    const wanted = distinctBy(posting.flatMap((command) => accountsOf(command, holds)), (a) => accountKey(a.userId, a.assetCode))
    if (wanted.length > 0) {
      let rows = yield* ledger.findAccounts(wanted)
      const unopened = distinctBy(
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
        (wallet) => accountKey(wallet.userId, wallet.assetCode)
      )
      if (unopened.length > 0) {
        yield* ledger.openWallets(unopened)
        rows = yield* ledger.findAccounts(wanted)
      }
      for (const row of rows) accounts.set(accountKey(row.userId, row.assetCode), row)
    }

    const postingsByCommand = new Map(posting.map((c) => [c, postingsOf(c, accounts, originals, holds)]))
    const walletIds = distinctBy(
      Array.from(postingsByCommand.values()).flatMap((p) =>
        Either.isRight(p) ? p.right.flatMap((leg) => [leg.debitWalletId, leg.creditWalletId]) : []
      ),
      Number
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
    const recorded = new Set(written.map((record) => record.key))
    const freedKeys = Array.from(claimed).filter((key) => !recorded.has(key))
    yield* ledger.writeBatch({ transactions, balances: sheet.balances(), records: written, freedKeys, newHolds, settled })
    return decided
  }
)

/**
 * One span per batch committed, the root of a trace of its own (the batch serves many
 * requests, each in its own trace), linked to the span of every request it answers (`requests`,
 * empty when tracing is off), so a request's trace leads to the batch that committed it and back.
 */
export const commitBatch = (
  commands: Arr.NonEmptyReadonlyArray<Command>,
  requests: ReadonlyArray<Tracer.SpanLink> = []
) =>
  Effect.flatMap(SqlClient.SqlClient, (sql) => sql.withTransaction(decideAndWrite(commands))).pipe(
    retryOnConflict,
    Effect.catchTag("SqlError", Effect.die),
    Effect.withSpan("WriteBatch.commit", { root: true, links: requests, attributes: { commands: commands.length } })
  )

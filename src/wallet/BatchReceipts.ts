import * as Schema from "effect/Schema"
import type { AssetCode } from "../domain/Asset.ts"
import type { UserId } from "../domain/User.ts"
import { Hold, HoldReceipt, SettlementReceipt } from "../domain/Hold.ts"
import { Amount } from "../domain/Money.ts"
import { type PostedBalances, type Posting } from "../domain/Posting.ts"
import { ReversalReceipt } from "../domain/Reversal.ts"
import { Receipt, TransactionId } from "../domain/Transaction.ts"
import { MultiLegReceipt, PostedLeg, TransferReceipt } from "../domain/Transfer.ts"
import { type AnyReceipt, type Command } from "../domain/Write.ts"
import { type HoldRow, type TransactionRow } from "../ledger/LedgerRepository.ts"
import type { Holds, Originals } from "./BatchPostings.ts"

/**
 * The transaction row each applied command writes and the receipt it answers (with the body its
 * key stores), from its legs' balances after each. No I/O.
 */

const encodeReceipt = Schema.encodeSync(Receipt)
const encodeTransferReceipt = Schema.encodeSync(TransferReceipt)
const encodeMultiLegReceipt = Schema.encodeSync(MultiLegReceipt)
const encodeReversalReceipt = Schema.encodeSync(ReversalReceipt)
const encodeHoldReceipt = Schema.encodeSync(HoldReceipt)
const encodeSettlementReceipt = Schema.encodeSync(SettlementReceipt)

/** The row a command writes and the receipt it answers, from its legs' balances after each. */
export const applied = (
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
  /** The legs as the receipt shows them, each with both sides' balances right after it. */
  const posted = (from: (posting: Posting, i: number) => UserId, to: (posting: Posting, i: number) => UserId) =>
    postings.map((posting, i) =>
      new PostedLeg({
        fromUserId: from(posting, i),
        toUserId: to(posting, i),
        assetCode: posting.assetCode,
        amount: posting.amount,
        fromBalance: legs[i]!.debitBalanceAfter,
        toBalance: legs[i]!.creditBalanceAfter
      }, true)
    )
  /** The transaction's row: its type, its own asset and amount (null for several), its legs. */
  const rowOf = (
    type: TransactionRow["type"],
    assetCode: AssetCode | null,
    amount: number | null,
    reverses: TransactionId | null = null
  ): TransactionRow => ({ id: transactionId, type, assetCode, amount, ...common, legs, createdBy, reverses })
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
      const row = rowOf(command.type, command.assetCode, command.amount)
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
      const row = rowOf("TRANSFER", command.leg.assetCode, command.leg.amount)
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
      const row = rowOf("TRANSACTION", null, null)
      return { row, receipt, body: encodeMultiLegReceipt(receipt) }
    }
    case "Hold": {
      const hold = holds.get(command.holdId)!
      const receipt = new HoldReceipt({ ...holdOf(hold), balance: legs[0]!.debitBalanceAfter, ...common }, true)
      const row = rowOf("HOLD", command.assetCode, command.amount)
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
        legs: posted(() => hold.escrowUserId, (posting) => posting.userId),
        ...common,
        createdAt
      }, true)
      // A release returns the hold's amount; a capture may be two legs, with no amount of its own.
      const row = type === "RELEASE" ? rowOf(type, hold.assetCode, hold.amount) : rowOf(type, null, null)
      return { row, receipt, body: encodeSettlementReceipt(receipt) }
    }
    case "Reversal": {
      const original = originals.get(command.transactionId)!
      const receipt = new ReversalReceipt({
        transactionId,
        type: "REVERSAL",
        reverses: command.transactionId,
        legs: posted((_, i) => original[i]!.creditUserId, (_, i) => original[i]!.debitUserId),
        ...common,
        createdAt
      }, true)
      // A reversal of a one-leg transaction keeps its asset and the amount reversed, as its original.
      const oneLeg = original[0].transactionAmount !== null
      const row = oneLeg
        ? rowOf("REVERSAL", postings[0]!.assetCode, postings[0]!.amount, command.transactionId)
        : rowOf("REVERSAL", null, null, command.transactionId)
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


import * as Arr from "effect/Array"
import * as Data from "effect/Data"
import * as Schema from "effect/Schema"
import { createHash } from "node:crypto"
import type { ApiKeyId } from "./ApiKey.ts"
import { type AssetCode, AssetNotFound } from "./Asset.ts"
import { IdempotencyKey, IdempotencyKeyReused } from "./Idempotency.ts"
import type { Amount } from "./Money.ts"
import {
  CaptureExceedsHold,
  type CaptureRequest,
  type HoldId,
  HoldNotActive,
  HoldNotFound,
  type HoldReceipt,
  type HoldRequest,
  type SettlementReceipt,
  type VoidRequest
} from "./Hold.ts"
import { TransactionNotFound } from "./Lookup.ts"
import { AlreadyReversed, NotReversible, type ReversalReceipt, type ReversalRequest } from "./Reversal.ts"
import {
  BalanceLimit,
  DebtLimit,
  InsufficientFunds,
  type Receipt,
  type TransactionId,
  WriteRequest,
  WriteType
} from "./Transaction.ts"
import { canonicalMetadata, Metadata } from "./Metadata.ts"
import type { TransferRequest, MultiLegReceipt, TransferReceipt } from "./Transfer.ts"
import { SameWallet, SystemAccount, type UserId, UserNotFound } from "./User.ts"

/** What every command carries beside its money: its text, its key, and who asked. */
interface CommandBase {
  readonly description: string | null
  readonly metadata: Metadata
  readonly idempotencyKey: IdempotencyKey
  /**
   * What makes two requests "the same" under one key: every field but the key, hashed so that
   * the stored fingerprint has a fixed size whatever the description. The endpoint's type is
   * part of it, so a key sent to another endpoint is a reuse.
   */
  readonly fingerprint: string
  /** The request's id (X-Request-Id), kept with the stored outcome; not part of the fingerprint. */
  readonly requestId: string | null
  /**
   * The API key that sent it, kept on its transaction; null for ADMIN_API_KEY and AUTH_DISABLED.
   * Not part of the fingerprint: a retry under another key of the same client is the same write.
   */
  readonly createdBy: ApiKeyId | null
}

/** A topup, bonus or spend as the committer takes it: one leg between a player and the treasury. */
export interface WriteCommand extends CommandBase {
  readonly _tag: "Write"
  readonly type: WriteType
  readonly userId: UserId
  readonly assetCode: AssetCode
  readonly amount: Amount
}

/** An amount of one asset from one user to another: the unit every transaction is made of. */
export interface Leg {
  readonly fromUserId: UserId
  readonly toUserId: UserId
  readonly assetCode: AssetCode
  readonly amount: Amount
}

/** A transfer between two players: one leg, neither side a system account. */
export interface TransferCommand extends CommandBase {
  readonly _tag: "Transfer"
  readonly leg: Leg
}

/** A multi-leg transaction: its legs apply in order, all or none; the treasury may be a side. */
export interface MultiLegCommand extends CommandBase {
  readonly _tag: "MultiLeg"
  readonly legs: Arr.NonEmptyReadonlyArray<Leg>
}

/**
 * A reversal of an earlier transaction: its legs mirrored, all of them, or part of the amount
 * of a one-leg transaction.
 */
export interface ReversalCommand extends CommandBase {
  readonly _tag: "Reversal"
  readonly transactionId: TransactionId
  /** Null: what is left to reverse. */
  readonly amount: Amount | null
  readonly allowDebt: boolean
}

/** A new hold: the amount moves from the player to the escrow until the hold is settled. */
export interface HoldCommand extends CommandBase {
  readonly _tag: "Hold"
  /** Chosen before the commit, so that the receipt can name it; a replay answers the first one's. */
  readonly holdId: HoldId
  readonly userId: UserId
  readonly assetCode: AssetCode
  readonly amount: Amount
  readonly expiresInSeconds: number
}

/** A capture of an active hold: all of it or part, to the treasury or another user. */
export interface CaptureCommand extends CommandBase {
  readonly _tag: "Capture"
  readonly holdId: HoldId
  /** Null: the whole hold. */
  readonly amount: Amount | null
  /** Null: the treasury. */
  readonly toUserId: UserId | null
}

/** A void of an active hold: all of it back to the player. */
export interface VoidCommand extends CommandBase {
  readonly _tag: "Void"
  readonly holdId: HoldId
}

/** Every command a client sends, each under its idempotency key. */
export type KeyedCommand =
  | WriteCommand
  | TransferCommand
  | MultiLegCommand
  | ReversalCommand
  | HoldCommand
  | CaptureCommand
  | VoidCommand

/**
 * The release of a hold past its expiry, sent by the service itself. It has no idempotency key:
 * the hold's row, locked by the batch, says whether it is still to be released, so two processes
 * expiring one hold release it once, and no client key can stand in its way.
 */
export interface ExpireCommand {
  readonly _tag: "Expire"
  readonly holdId: HoldId
  readonly description: null
  readonly metadata: Metadata
  readonly createdBy: null
}

/** Everything the committer takes: each command is one transaction, or none. */
export type Command = KeyedCommand | ExpireCommand

/** Who asked, under which key: the same for every command, never part of the fingerprint. */
interface Origin {
  readonly idempotencyKey: IdempotencyKey
  readonly requestId: string | null
  readonly createdBy: ApiKeyId | null
}

/**
 * The text, key and fingerprint every command carries. `fields` are what makes two requests
 * "the same" besides their description and metadata: the endpoint's type first.
 */
const commandBase = (
  request: { readonly description?: string | undefined; readonly metadata?: Metadata | undefined },
  fields: ReadonlyArray<unknown>,
  origin: Origin
): CommandBase => {
  const description = request.description ?? null
  const metadata = request.metadata ?? {}
  // Without metadata the fingerprint is what it was before metadata existed, so a retry that
  // spans an upgrade still matches its key.
  const pairs = canonicalMetadata(metadata)
  const fingerprinted = pairs.length > 0 ? [...fields, description, pairs] : [...fields, description]
  return {
    ...origin,
    description,
    metadata,
    fingerprint: createHash("sha256").update(JSON.stringify(fingerprinted)).digest("hex")
  }
}

export const writeCommand = (
  type: WriteType,
  request: Omit<WriteRequest, "idempotencyKey">,
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): WriteCommand => ({
  _tag: "Write",
  type,
  userId: request.userId,
  assetCode: request.assetCode,
  amount: request.amount,
  ...commandBase(request, [type, request.userId, request.assetCode, request.amount], { idempotencyKey, requestId, createdBy })
})

const legOf = (leg: Leg): Leg => ({
  fromUserId: leg.fromUserId,
  toUserId: leg.toUserId,
  assetCode: leg.assetCode,
  amount: leg.amount
})

export const transferCommand = (
  request: Omit<TransferRequest, "idempotencyKey">,
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): TransferCommand => ({
  _tag: "Transfer",
  leg: legOf(request),
  ...commandBase(
    request,
    ["TRANSFER", request.fromUserId, request.toUserId, request.assetCode, request.amount],
    { idempotencyKey, requestId, createdBy }
  )
})

export const multiLegCommand = (
  legs: Arr.NonEmptyReadonlyArray<Leg>,
  request: { readonly description?: string | undefined; readonly metadata?: Metadata | undefined },
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): MultiLegCommand => ({
  _tag: "MultiLeg",
  legs: Arr.map(legs, legOf),
  ...commandBase(
    request,
    ["TRANSACTION", legs.map((leg) => [leg.fromUserId, leg.toUserId, leg.assetCode, leg.amount])],
    { idempotencyKey, requestId, createdBy }
  )
})

export const reversalCommand = (
  transactionId: TransactionId,
  request: Omit<ReversalRequest, "idempotencyKey">,
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): ReversalCommand => ({
  _tag: "Reversal",
  transactionId,
  amount: request.amount ?? null,
  allowDebt: request.allowDebt,
  ...commandBase(
    request,
    ["REVERSAL", transactionId, request.amount ?? null, request.allowDebt],
    { idempotencyKey, requestId, createdBy }
  )
})

export const holdCommand = (
  holdId: HoldId,
  request: Omit<HoldRequest, "idempotencyKey">,
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): HoldCommand => ({
  _tag: "Hold",
  holdId,
  userId: request.userId,
  assetCode: request.assetCode,
  amount: request.amount,
  expiresInSeconds: request.expiresInSeconds,
  // The hold's id is not part of it: a retry makes a new one, and replays the first hold.
  ...commandBase(
    request,
    ["HOLD", request.userId, request.assetCode, request.amount, request.expiresInSeconds],
    { idempotencyKey, requestId, createdBy }
  )
})

export const captureCommand = (
  holdId: HoldId,
  request: Omit<CaptureRequest, "idempotencyKey">,
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): CaptureCommand => ({
  _tag: "Capture",
  holdId,
  amount: request.amount ?? null,
  toUserId: request.toUserId ?? null,
  ...commandBase(
    request,
    ["CAPTURE", holdId, request.amount ?? null, request.toUserId ?? null],
    { idempotencyKey, requestId, createdBy }
  )
})

export const voidCommand = (
  holdId: HoldId,
  request: Omit<VoidRequest, "idempotencyKey">,
  idempotencyKey: IdempotencyKey,
  requestId: string | null = null,
  createdBy: ApiKeyId | null = null
): VoidCommand => ({
  _tag: "Void",
  holdId,
  ...commandBase(request, ["VOID", holdId], { idempotencyKey, requestId, createdBy })
})

export const expireCommand = (holdId: HoldId): ExpireCommand => ({
  _tag: "Expire",
  holdId,
  description: null,
  metadata: {},
  createdBy: null
})

/**
 * The outcomes final for a request, and so stored under its key with their body: the write
 * applied, or it was refused by a money rule. Anything else (an unknown user, a schema
 * failure, a database outage) frees the key for a corrected retry.
 */
export const StoredOutcome = Schema.Literal("APPLIED", "INSUFFICIENT_FUNDS", "BALANCE_LIMIT", "DEBT_LIMIT", "ALREADY_REVERSED", "HOLD_NOT_ACTIVE")
export type StoredOutcome = typeof StoredOutcome.Type

/** The stored record of a key that was already used. */
export interface IdempotencyRecord {
  readonly fingerprint: string
  readonly outcome: StoredOutcome
  readonly responseBody: unknown
  /** The id of the request that decided it, which its error body named. */
  readonly requestId: string | null
}

/** What an applied command returns: its endpoint's receipt. */
export type AnyReceipt = Receipt | TransferReceipt | MultiLegReceipt | ReversalReceipt | HoldReceipt | SettlementReceipt

export interface Applied<R> {
  readonly _tag: "Applied"
  readonly receipt: R
}

export interface Replayed {
  readonly _tag: "Replayed"
  readonly outcome: StoredOutcome
  readonly body: unknown
  readonly requestId: string | null
}

/**
 * A write either applied now, or had been decided under its idempotency key before, in which
 * case the first outcome's body is returned as it was stored. `R` is the receipt its endpoint
 * returns.
 */
export type WriteResult<R extends AnyReceipt = AnyReceipt> = Applied<R> | Replayed

export const WriteResult = {
  Applied: <R extends AnyReceipt>(fields: { readonly receipt: R }): Applied<R> => Data.struct({ _tag: "Applied", ...fields }),
  Replayed: (fields: Omit<Replayed, "_tag">): Replayed => Data.struct({ _tag: "Replayed", ...fields })
} as const

/** Every answer to a write that is not a success, each its own request's. */
export type WriteRefusal =
  | IdempotencyKeyReused
  | UserNotFound
  | AssetNotFound
  | SystemAccount
  | SameWallet
  | InsufficientFunds
  | BalanceLimit
  | DebtLimit
  | TransactionNotFound
  | NotReversible
  | AlreadyReversed
  | HoldNotFound
  | HoldNotActive
  | CaptureExceedsHold

export const WriteRefusal = Schema.Union(
  IdempotencyKeyReused,
  UserNotFound,
  AssetNotFound,
  SystemAccount,
  SameWallet,
  InsufficientFunds,
  BalanceLimit,
  DebtLimit,
  TransactionNotFound,
  NotReversible,
  AlreadyReversed,
  HoldNotFound,
  HoldNotActive,
  CaptureExceedsHold
)

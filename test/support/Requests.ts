import { AssetCode } from "../../src/domain/Asset.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { WriteRequest } from "../../src/domain/Transaction.ts"
import { LegRequest, MultiLegRequest, TransferRequest } from "../../src/domain/Transfer.ts"
import { UserId } from "../../src/domain/User.ts"

/** A write body for the typed client, from plain values. */
export const writeRequest = (fields: {
  readonly userId: number
  readonly assetCode: string
  readonly amount: number
  readonly idempotencyKey?: string
  readonly description?: string
}) =>
  WriteRequest.make({
    userId: UserId.make(fields.userId),
    assetCode: AssetCode.make(fields.assetCode),
    amount: Amount.make(fields.amount),
    ...(fields.idempotencyKey === undefined ? {} : { idempotencyKey: IdempotencyKey.make(fields.idempotencyKey) }),
    ...(fields.description === undefined ? {} : { description: fields.description })
  })

/** A transfer body for the typed client, from plain values. */
export const transferRequest = (fields: {
  readonly fromUserId: number
  readonly toUserId: number
  readonly assetCode: string
  readonly amount: number
  readonly idempotencyKey?: string
  readonly description?: string
  readonly metadata?: Record<string, string>
}) =>
  TransferRequest.make({
    fromUserId: UserId.make(fields.fromUserId),
    toUserId: UserId.make(fields.toUserId),
    assetCode: AssetCode.make(fields.assetCode),
    amount: Amount.make(fields.amount),
    ...(fields.idempotencyKey === undefined ? {} : { idempotencyKey: IdempotencyKey.make(fields.idempotencyKey) }),
    ...(fields.description === undefined ? {} : { description: fields.description }),
    ...(fields.metadata === undefined ? {} : { metadata: fields.metadata })
  })

/** One leg as plain values: [from, to, asset, amount]. */
export type PlainLeg = readonly [number, number, string, number]

/** A multi-leg body for the typed client, from plain values. */
export const multiLegRequest = (legs: ReadonlyArray<PlainLeg>, fields: {
  readonly idempotencyKey?: string
  readonly description?: string
  readonly metadata?: Record<string, string>
} = {}) =>
  MultiLegRequest.make({
    legs: legs.map(([from, to, assetCode, amount]) =>
      LegRequest.make({
        fromUserId: UserId.make(from),
        toUserId: UserId.make(to),
        assetCode: AssetCode.make(assetCode),
        amount: Amount.make(amount)
      })
    ),
    ...(fields.idempotencyKey === undefined ? {} : { idempotencyKey: IdempotencyKey.make(fields.idempotencyKey) }),
    ...(fields.description === undefined ? {} : { description: fields.description }),
    ...(fields.metadata === undefined ? {} : { metadata: fields.metadata })
  })

/** A multi-leg body as raw JSON. */
export const multiLegJson = (legs: ReadonlyArray<PlainLeg>, fields: Record<string, unknown> = {}) => ({
  legs: legs.map(([fromUserId, toUserId, assetCode, amount]) => ({ fromUserId, toUserId, assetCode, amount })),
  ...fields
})

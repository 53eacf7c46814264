import { AssetCode } from "../../src/domain/Asset.ts"
import { IdempotencyKey } from "../../src/domain/Idempotency.ts"
import { Amount } from "../../src/domain/Money.ts"
import { WriteRequest } from "../../src/domain/Transaction.ts"
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

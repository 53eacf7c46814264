import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { IdempotencyKey } from "./Idempotency.ts"
import { Metadata } from "./Metadata.ts"
import { Description, WriteRequest, WriteType } from "./Transaction.ts"

/**
 * The bulk endpoint's request and answer, and the refusal of a full write queue: the contract's
 * part of writing, apart from the commands the service builds (Write.ts), so the contract and
 * the client package need nothing of the server.
 */

/** The write queue is full: the client should retry later (Retry-After), with the same key. */
export class Overloaded extends Schema.TaggedError<Overloaded>()(
  "Overloaded",
  { code: errorCode("OVERLOADED"), message: Schema.String },
  HttpApiSchema.annotations({ status: 503 })
) {
  static readonly instance = new Overloaded({
    message: "Too many writes are waiting; retry shortly with the same idempotency key"
  })
}

/** The most items one bulk request may carry. */
export const BulkItemsMax = 1_000

/** One item of a bulk request: a topup, bonus or spend with its own, required, key. */
export class BulkWriteItem extends Schema.Class<BulkWriteItem>("BulkWriteItem")({
  type: WriteType,
  userId: WriteRequest.fields.userId,
  assetCode: WriteRequest.fields.assetCode,
  amount: WriteRequest.fields.amount,
  idempotencyKey: IdempotencyKey,
  description: Schema.optional(Description),
  metadata: Schema.optional(Metadata)
}) {}

export class BulkWriteRequest extends Schema.Class<BulkWriteRequest>("BulkWriteRequest")({
  items: Schema.Array(BulkWriteItem).pipe(
    Schema.minItems(1),
    Schema.maxItems(BulkItemsMax),
    Schema.annotations({ description: `1 to ${BulkItemsMax} independent writes, applied in order` })
  )
}) {}

/**
 * Each item's answer, in item order: the status and body its single endpoint would have
 * answered (a 201 receipt, or an error body with its code).
 */
export class BulkWriteResult extends Schema.Class<BulkWriteResult>("BulkWriteResult")({
  results: Schema.Array(
    Schema.Struct({
      index: Schema.Int,
      status: Schema.Int,
      body: Schema.Unknown.annotations({ description: "A Receipt (201) or an error body with code and message" })
    })
  )
}) {}

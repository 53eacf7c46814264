import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { BoundedText } from "./Limits.ts"

export const IdempotencyKey = BoundedText({ minChars: 1, maxChars: 255 }).pipe(
  Schema.brand("IdempotencyKey"),
  Schema.annotations({ description: "Client-chosen key that makes a write apply at most once (1 to 255 characters)" })
)
export type IdempotencyKey = typeof IdempotencyKey.Type

/** The request header that may carry the key instead of the body. */
export const IdempotencyHeaders = Schema.Struct({
  "idempotency-key": Schema.optional(IdempotencyKey)
})

export class IdempotencyKeyMissing extends Schema.TaggedError<IdempotencyKeyMissing>()(
  "IdempotencyKeyMissing",
  { code: errorCode("IDEMPOTENCY_KEY_MISSING"), message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {
  static readonly instance = new IdempotencyKeyMissing({
    message: "An idempotency key is required, in the body (idempotencyKey) or the Idempotency-Key header"
  })
}

export class IdempotencyKeyConflict extends Schema.TaggedError<IdempotencyKeyConflict>()(
  "IdempotencyKeyConflict",
  { code: errorCode("IDEMPOTENCY_KEY_CONFLICT"), message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {
  static readonly instance = new IdempotencyKeyConflict({
    message: "The Idempotency-Key header and the body's idempotencyKey differ"
  })
}

export class IdempotencyKeyReused extends Schema.TaggedError<IdempotencyKeyReused>()(
  "IdempotencyKeyReused",
  { code: errorCode("IDEMPOTENCY_KEY_REUSED"), message: Schema.String, idempotencyKey: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {
  static of(idempotencyKey: string) {
    return new IdempotencyKeyReused({
      idempotencyKey,
      message: `Idempotency key ${idempotencyKey} was already used for a different request`
    })
  }
}

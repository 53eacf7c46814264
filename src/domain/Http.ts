import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"

/**
 * Errors of the HTTP edge itself: requests that never reach a use case. They share the
 * `code` + `message` shape of every other error body.
 */

export const ValidationIssue = Schema.Struct({
  path: Schema.Array(Schema.Union(Schema.String, Schema.Number)),
  message: Schema.String
})

export class ValidationError extends Schema.TaggedError<ValidationError>()(
  "ValidationError",
  { code: errorCode("VALIDATION_ERROR"), message: Schema.String, issues: Schema.Array(ValidationIssue) },
  HttpApiSchema.annotations({ status: 400, description: "The request did not match the contract" })
) {}

export class MalformedJson extends Schema.TaggedError<MalformedJson>()(
  "MalformedJson",
  { code: errorCode("MALFORMED_JSON"), message: Schema.String },
  HttpApiSchema.annotations({ status: 400 })
) {}

export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()(
  "PayloadTooLarge",
  { code: errorCode("PAYLOAD_TOO_LARGE"), message: Schema.String },
  HttpApiSchema.annotations({ status: 413 })
) {}

export class UnsupportedMediaType extends Schema.TaggedError<UnsupportedMediaType>()(
  "UnsupportedMediaType",
  { code: errorCode("UNSUPPORTED_MEDIA_TYPE"), message: Schema.String },
  HttpApiSchema.annotations({ status: 415 })
) {}

export class RouteNotFound extends Schema.TaggedError<RouteNotFound>()(
  "RouteNotFound",
  { code: errorCode("ROUTE_NOT_FOUND"), message: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {}

export class MethodNotAllowed extends Schema.TaggedError<MethodNotAllowed>()(
  "MethodNotAllowed",
  { code: errorCode("METHOD_NOT_ALLOWED"), message: Schema.String, allow: Schema.Array(Schema.String) },
  HttpApiSchema.annotations({ status: 405 })
) {}

export class InternalError extends Schema.TaggedError<InternalError>()(
  "InternalError",
  { code: errorCode("INTERNAL_ERROR"), message: Schema.String },
  HttpApiSchema.annotations({ status: 500 })
) {}

export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()(
  "ServiceUnavailable",
  {
    code: errorCode("SERVICE_UNAVAILABLE"),
    message: Schema.String,
    status: Schema.Literal("unavailable", "shutting_down")
  },
  HttpApiSchema.annotations({ status: 503 })
) {}

/** The database answered: the answer of /api/health, and of /api/health/ready when not draining. */
export class Health extends Schema.Class<Health>("Health")({
  status: Schema.Literal("ok"),
  database: Schema.Literal("up")
}) {}

/** The process answers; it says nothing of the database, so an outage does not restart every instance. */
export class Liveness extends Schema.Class<Liveness>("Liveness")({
  status: Schema.Literal("ok")
}) {}

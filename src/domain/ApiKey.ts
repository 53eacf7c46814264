import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { BoundedText } from "./Limits.ts"

/**
 * Scoped API keys. `read` sees balances, history and metrics; `write` moves money and registers
 * players; `admin` manages keys and implies the other two.
 */
export const Scope = Schema.Literal("read", "write", "admin")
export type Scope = typeof Scope.Type

/** Whether a key with `scopes` may do what needs `required`: admin may do everything. */
export const grants = (scopes: ReadonlyArray<Scope>, required: Scope): boolean =>
  scopes.includes(required) || scopes.includes("admin")

export const ApiKeyId = Schema.UUID.pipe(
  Schema.brand("ApiKeyId"),
  Schema.annotations({ description: "Id of an API key (not its secret)" })
)
export type ApiKeyId = typeof ApiKeyId.Type

export const ApiKeyNameMaxChars = 100

export const ApiKeyName = BoundedText({ minChars: 1, maxChars: ApiKeyNameMaxChars }).pipe(
  Schema.annotations({ description: `Who or what the key is for (1 to ${ApiKeyNameMaxChars} characters)` })
)

/** One to three scopes, each at most once. */
export const Scopes = Schema.Array(Scope).pipe(
  Schema.minItems(1),
  Schema.maxItems(3),
  Schema.filter((scopes) => new Set(scopes).size === scopes.length || "expected each scope at most once"),
  Schema.annotations({ description: "read, write and/or admin (admin implies read and write)" })
)

/**
 * A key's secret: a recognisable prefix, so that secret scanners and people can tell what leaked,
 * and 32 random bytes in base64url.
 */
export const ApiKeyPrefix = "dwk_"

/** ADMIN_API_KEY is chosen by the operator: at least this long, so it cannot be guessed either. */
export const AdminApiKeyMinChars = 32

export class NewApiKey extends Schema.Class<NewApiKey>("NewApiKey")({
  name: ApiKeyName,
  scopes: Scopes
}) {}

/** A key as listed: never its secret, which the service does not have. */
export class ApiKeyInfo extends Schema.Class<ApiKeyInfo>("ApiKeyInfo")({
  keyId: ApiKeyId,
  name: Schema.String,
  scopes: Schema.Array(Scope),
  createdAt: Schema.Date,
  revokedAt: Schema.NullOr(Schema.Date)
}) {}

export class ApiKeyList extends Schema.Class<ApiKeyList>("ApiKeyList")({
  items: Schema.Array(ApiKeyInfo)
}) {}

/** The answer to creating a key: the only time its secret is shown. */
export class CreatedApiKey extends Schema.Class<CreatedApiKey>("CreatedApiKey")({
  keyId: ApiKeyId,
  key: Schema.String.annotations({ description: "The secret, shown this once: send it as Authorization: Bearer <key>" }),
  name: Schema.String,
  scopes: Schema.Array(Scope),
  createdAt: Schema.Date
}) {}

/**
 * Who is calling: a stored key, or one of the two callers that have no row (ADMIN_API_KEY, and
 * everyone when AUTH_DISABLED is set), whose keyId is null.
 */
export interface Caller {
  readonly keyId: ApiKeyId | null
  readonly name: string
  readonly scopes: ReadonlyArray<Scope>
}

/** The calling key as it describes itself, so a client (the support console) can tell what it may do. */
export class CallerInfo extends Schema.Class<CallerInfo>("CallerInfo")({
  keyId: Schema.NullOr(ApiKeyId).annotations({ description: "null for ADMIN_API_KEY and when AUTH_DISABLED is set" }),
  name: Schema.String,
  scopes: Schema.Array(Scope)
}) {}

export class Unauthorized extends Schema.TaggedError<Unauthorized>()(
  "Unauthorized",
  { code: errorCode("UNAUTHORIZED"), message: Schema.String },
  HttpApiSchema.annotations({ status: 401, description: "No API key, or one that is unknown or revoked" })
) {
  static readonly instance = new Unauthorized({
    message: "A valid API key is required: send Authorization: Bearer <key>"
  })
}

export class Forbidden extends Schema.TaggedError<Forbidden>()(
  "Forbidden",
  { code: errorCode("FORBIDDEN"), message: Schema.String, requiredScope: Scope },
  HttpApiSchema.annotations({ status: 403, description: "The API key lacks the scope this endpoint needs" })
) {
  static of(requiredScope: Scope) {
    return new Forbidden({ requiredScope, message: `This API key lacks the ${requiredScope} scope this endpoint needs` })
  }
}

/** Too many keys in use: an operator revokes unused ones first (API_KEYS_MAX). */
export class ApiKeyLimit extends Schema.TaggedError<ApiKeyLimit>()(
  "ApiKeyLimit",
  { code: errorCode("API_KEY_LIMIT"), message: Schema.String, limit: Schema.Number },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(limit: number) {
    return new ApiKeyLimit({ limit, message: `At most ${limit} API keys may be in use; revoke unused ones first` })
  }
}

export class ApiKeyNotFound extends Schema.TaggedError<ApiKeyNotFound>()(
  "ApiKeyNotFound",
  { code: errorCode("API_KEY_NOT_FOUND"), message: Schema.String, keyId: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(keyId: string) {
    return new ApiKeyNotFound({ keyId, message: `API key ${keyId} does not exist` })
  }
}

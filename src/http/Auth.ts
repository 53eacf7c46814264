import { type HttpApiEndpoint, HttpApiMiddleware, HttpApiSecurity, type HttpMethod, OpenApi } from "@effect/platform"
import * as Context from "effect/Context"
import * as Schema from "effect/Schema"
import { type Caller, Forbidden, type Scope, Unauthorized } from "../domain/ApiKey.ts"

/**
 * The contract's side of API keys: one middleware per scope, each reading the bearer token. An
 * endpoint names the scope it needs by the middleware it carries, so the OpenAPI document shows
 * the scheme on exactly those endpoints (Swagger's "Authorize" then sends the key), and the
 * handlers get the caller (CurrentApiKey) to pass on.
 */

/** The caller of the current request, provided by the scope's middleware. */
export class CurrentApiKey extends Context.Tag("CurrentApiKey")<CurrentApiKey, Caller>() {}

const bearer = HttpApiSecurity.bearer.pipe(
  HttpApiSecurity.annotate(
    OpenApi.Description,
    "An API key: Authorization: Bearer <key>. Scopes: read (balances, history, metrics), write (every write and " +
      "creating players), admin (API keys; implies read and write)."
  )
)

const options = {
  failure: Schema.Union(Unauthorized, Forbidden),
  provides: CurrentApiKey,
  security: { bearer }
} as const

export class ReadAccess extends HttpApiMiddleware.Tag<ReadAccess>()("ReadAccess", options) {}

export class WriteAccess extends HttpApiMiddleware.Tag<WriteAccess>()("WriteAccess", options) {}

export class AdminAccess extends HttpApiMiddleware.Tag<AdminAccess>()("AdminAccess", options) {}

/** Any valid key, whatever its scopes: for the endpoint that tells a key about itself. */
export class KeyAccess extends HttpApiMiddleware.Tag<KeyAccess>()("KeyAccess", options) {}

/**
 * What an endpoint pipes through to need a scope: the scope's middleware, and the same scope as
 * `x-required-scope` in the OpenAPI document (the three middlewares share one security scheme,
 * so the document could not tell them apart otherwise), from one place.
 */
const needs = <I extends HttpApiMiddleware.HttpApiMiddleware.AnyId, S>(scope: Scope | "any", middleware: Context.Tag<I, S>) =>
<Name extends string, Method extends HttpMethod.HttpMethod, Path, UrlParams, Payload, Headers, Success, Error, R, RE>(
  endpoint: HttpApiEndpoint.HttpApiEndpoint<Name, Method, Path, UrlParams, Payload, Headers, Success, Error, R, RE>
) => endpoint.middleware(middleware).annotate(OpenApi.Override, { "x-required-scope": scope })

export const needsRead = needs("read", ReadAccess)
export const needsWrite = needs("write", WriteAccess)
export const needsAdmin = needs("admin", AdminAccess)
export const needsKey = needs("any", KeyAccess)

import { HttpApp, HttpServerResponse } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Redacted from "effect/Redacted"
import type { Scope } from "../domain/ApiKey.ts"
import { ApiKeys } from "../wallet/ApiKeys.ts"
import { AdminAccess, KeyAccess, ReadAccess, WriteAccess } from "./Auth.ts"

/** A 401 tells the client which scheme to use (RFC 9110, section 11.6.1). */
const challenge = HttpApp.appendPreResponseHandler((_, response) =>
  Effect.succeed(HttpServerResponse.setHeader(response, "www-authenticate", "Bearer"))
)

const checkScope = (keys: ApiKeys, scope: Scope) => (token: Redacted.Redacted) =>
  keys.authorize(token, scope).pipe(Effect.tapErrorTag("Unauthorized", () => challenge))

/** The scope checks, over the in-memory key table: no database round trip per request. */
export const AuthLive = Layer.mergeAll(
  Layer.effect(
    KeyAccess,
    Effect.map(ApiKeys, (keys) =>
      KeyAccess.of({ bearer: (token) => keys.authenticate(token).pipe(Effect.tapErrorTag("Unauthorized", () => challenge)) }))
  ),
  Layer.effect(ReadAccess, Effect.map(ApiKeys, (keys) => ReadAccess.of({ bearer: checkScope(keys, "read") }))),
  Layer.effect(WriteAccess, Effect.map(ApiKeys, (keys) => WriteAccess.of({ bearer: checkScope(keys, "write") }))),
  Layer.effect(AdminAccess, Effect.map(ApiKeys, (keys) => AdminAccess.of({ bearer: checkScope(keys, "admin") })))
)

import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Redacted from "effect/Redacted"
import { WalletApi } from "./http/Api.ts"

/**
 * The typed client, derived from the same contract as the server: success values are decoded
 * into the domain classes and every documented error into its tagged error. This module and
 * what it imports (the contract and domain/) are also the published package
 * `@dino-wallet/client` (packages/client builds them), so nothing here may reach server code
 * or a `node:` module: it runs on Node 20, Bun and in browsers.
 *
 *   const wallet = yield* makeFetchWalletClient("http://localhost:3000", { apiKey: "dwk_…" })
 *   const receipt = yield* wallet.wallets.topup({ payload: {...}, headers: {} })
 *
 * The API key is the client's (`apiKey`) or one call's (`withApiKey`), which wins. A write sent
 * without an idempotency key gets a fresh UUID when the call is made, so retrying the returned
 * Effect sends the same key again and the write still applies once.
 */
export interface WalletClientOptions {
  readonly apiKey?: string | Redacted.Redacted | undefined
  /** Whether a write without an idempotency key gets a generated one (default true). */
  readonly generateIdempotencyKeys?: boolean | undefined
}

/** The key of the calls run inside `withApiKey`; none outside it. */
const callApiKey = FiberRef.unsafeMake<string | Redacted.Redacted | undefined>(undefined)

/**
 * Runs a call (or several) with this API key instead of the client's.
 *
 *   wallet.wallets.balance({ path: { userId }, urlParams: {} }).pipe(withApiKey(readerKey))
 */
export const withApiKey: {
  (apiKey: string | Redacted.Redacted): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, apiKey: string | Redacted.Redacted): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, apiKey: string | Redacted.Redacted) =>
  Effect.locally(self, callApiKey, apiKey))

/** A UUID from the platform's Web Crypto (Node 20, Bun and browsers have it on globalThis). */
export const newIdempotencyKey = (): string => globalThis.crypto.randomUUID()

/** The endpoints that take an Idempotency-Key header, as "group.endpoint". */
const keyedEndpoints = new Set(
  Object.values(WalletApi.groups).flatMap((group) =>
    Object.values(group.endpoints)
      .filter((endpoint) => endpoint.method === "POST" && endpoint.headersSchema._tag === "Some")
      .map((endpoint) => `${group.identifier}.${endpoint.name}`)
  )
)

interface CallArgs {
  readonly payload?: { readonly idempotencyKey?: unknown } | undefined
  readonly headers?: Record<string, unknown> | undefined
}

/** The call's arguments with an Idempotency-Key header when neither the body nor the headers have a key. */
const withKey = (args: CallArgs | undefined): CallArgs => {
  const hasKey = args?.payload?.idempotencyKey !== undefined || args?.headers?.["idempotency-key"] !== undefined
  return hasKey ? args ?? {} : { ...args, headers: { ...args?.headers, "idempotency-key": newIdempotencyKey() } }
}

type Call = (args?: CallArgs) => unknown

/** The same client object, with each keyed write's method wrapped; the types are the derived client's. */
const generatingKeys = <C extends object>(client: C): C => {
  const groups = client as unknown as Record<string, Record<string, Call>>
  for (const [groupName, group] of Object.entries(groups)) {
    for (const [endpointName, call] of Object.entries(group)) {
      if (keyedEndpoints.has(`${groupName}.${endpointName}`)) {
        group[endpointName] = (args?: CallArgs) => call(withKey(args))
      }
    }
  }
  return client
}

export const makeWalletClient = (baseUrl: string, options: WalletClientOptions = {}) =>
  HttpApiClient.make(WalletApi, {
    baseUrl,
    transformClient: HttpClient.mapRequestEffect((request) =>
      Effect.map(FiberRef.get(callApiKey), (callKey) => {
        const apiKey = callKey ?? options.apiKey
        return apiKey === undefined ? request : HttpClientRequest.bearerToken(request, apiKey)
      })
    )
  }).pipe(Effect.map((client) => options.generateIdempotencyKeys === false ? client : generatingKeys(client)))

export type WalletClient = Effect.Effect.Success<ReturnType<typeof makeWalletClient>>

/** The client with the platform's fetch-based HttpClient supplied. */
export const makeFetchWalletClient = (baseUrl: string, options: WalletClientOptions = {}) =>
  makeWalletClient(baseUrl, options).pipe(Effect.provide(FetchHttpClient.layer))

// What a program needs beside the client: the contract, and the schemas and errors it names.
export * from "./domain/ApiKey.ts"
export * from "./domain/Asset.ts"
export * from "./domain/Balance.ts"
export * from "./domain/Bulk.ts"
export * from "./domain/Event.ts"
export * from "./domain/History.ts"
export * from "./domain/Hold.ts"
export * from "./domain/Http.ts"
export * from "./domain/Idempotency.ts"
export * from "./domain/Lookup.ts"
export * from "./domain/Metadata.ts"
export * from "./domain/Money.ts"
export * from "./domain/Reconciliation.ts"
export * from "./domain/Reversal.ts"
export * from "./domain/Transaction.ts"
export * from "./domain/Transfer.ts"
export * from "./domain/User.ts"
export { WalletApi } from "./http/Api.ts"

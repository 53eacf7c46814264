import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import * as Effect from "effect/Effect"
import type * as Redacted from "effect/Redacted"
import { WalletApi } from "./http/Api.ts"

/**
 * The typed client, derived from the same contract as the server: success values are decoded
 * into the domain classes and every documented error into its tagged error.
 *
 *   const wallet = yield* makeWalletClient("http://localhost:3000", { apiKey: "dwk_…" })
 *   const receipt = yield* wallet.wallets.topup({ payload: {...}, headers: {} })
 *
 * With `apiKey`, every request carries it as `Authorization: Bearer <key>`.
 */
export interface WalletClientOptions {
  readonly apiKey?: string | Redacted.Redacted | undefined
}

export const makeWalletClient = (baseUrl: string, options: WalletClientOptions = {}) => {
  const apiKey = options.apiKey
  return HttpApiClient.make(WalletApi, {
    baseUrl,
    ...(apiKey === undefined
      ? {}
      : { transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(apiKey)) })
  })
}

export type WalletClient = Effect.Effect.Success<ReturnType<typeof makeWalletClient>>

/** The client with the platform's fetch-based HttpClient supplied. */
export const makeFetchWalletClient = (baseUrl: string, options: WalletClientOptions = {}) =>
  makeWalletClient(baseUrl, options).pipe(Effect.provide(FetchHttpClient.layer))

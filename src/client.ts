import { FetchHttpClient, HttpApiClient } from "@effect/platform"
import * as Effect from "effect/Effect"
import { WalletApi } from "./http/Api.ts"

/**
 * The typed client, derived from the same contract as the server: success values are decoded
 * into the domain classes and every documented error into its tagged error.
 *
 *   const wallet = yield* makeWalletClient("http://localhost:3000")
 *   const receipt = yield* wallet.wallets.topup({ payload: {...}, headers: {} })
 */
export const makeWalletClient = (baseUrl: string) => HttpApiClient.make(WalletApi, { baseUrl })

export type WalletClient = Effect.Effect.Success<ReturnType<typeof makeWalletClient>>

/** The client with the platform's fetch-based HttpClient supplied. */
export const makeFetchWalletClient = (baseUrl: string) =>
  makeWalletClient(baseUrl).pipe(Effect.provide(FetchHttpClient.layer))

import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import * as Effect from "effect/Effect"
import { WalletService, type WriteResult } from "../wallet/WalletService.ts"
import { WalletApi } from "./Api.ts"

/** A replay is the first response again, byte for byte, marked so the client can tell. */
const respond = (result: WriteResult) =>
  result._tag === "Applied"
    ? result.receipt
    : HttpServerResponse.unsafeJson(result.body, {
      status: result.statusCode,
      headers: { "idempotent-replayed": "true" }
    })

export const WalletsHttpLive = HttpApiBuilder.group(WalletApi, "wallets", (handlers) =>
  Effect.gen(function*() {
    const wallets = yield* WalletService
    return handlers
      .handle("topup", ({ headers, payload }) => Effect.map(wallets.topup(payload, headers["idempotency-key"]), respond))
      .handle("bonus", ({ headers, payload }) => Effect.map(wallets.bonus(payload, headers["idempotency-key"]), respond))
      .handle("spend", ({ headers, payload }) => Effect.map(wallets.spend(payload, headers["idempotency-key"]), respond))
      .handle("balance", ({ path, urlParams }) => wallets.balance(path.userId, urlParams.assetCode))
      .handle("history", ({ path, urlParams }) => wallets.history(path.userId, urlParams))
  }))

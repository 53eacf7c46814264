import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { TransactionLookup } from "../wallet/TransactionLookup.ts"
import { WalletService } from "../wallet/WalletService.ts"
import { WalletApi } from "./Api.ts"
import { origin, respond } from "./WriteAnswer.ts"

export const TransactionsHttpLive = HttpApiBuilder.group(WalletApi, "transactions", (handlers) =>
  Effect.gen(function*() {
    const lookup = yield* TransactionLookup
    const wallets = yield* WalletService
    return handlers
      .handle("create", ({ headers, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => wallets.transact(payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("reverse", ({ headers, path, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => wallets.reverse(path.transactionId, payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("get", ({ path }) => lookup.byId(path.transactionId))
      .handle("search", ({ urlParams }) => lookup.search(urlParams))
  }))

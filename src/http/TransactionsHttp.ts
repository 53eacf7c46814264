import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { TransactionLookup } from "../wallet/TransactionLookup.ts"
import { WalletApi } from "./Api.ts"

export const TransactionsHttpLive = HttpApiBuilder.group(WalletApi, "transactions", (handlers) =>
  Effect.gen(function*() {
    const lookup = yield* TransactionLookup
    return handlers
      .handle("get", ({ path }) => lookup.byId(path.transactionId))
      .handle("search", ({ urlParams }) => lookup.search(urlParams))
  }))

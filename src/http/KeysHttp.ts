import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { ApiKeys } from "../wallet/ApiKeys.ts"
import { WalletApi } from "./Api.ts"

export const KeysHttpLive = HttpApiBuilder.group(WalletApi, "keys", (handlers) =>
  Effect.gen(function*() {
    const keys = yield* ApiKeys
    return handlers
      .handle("create", ({ payload }) => keys.create(payload))
      .handle("list", () => keys.list)
      .handle("revoke", ({ path }) => keys.revoke(path.keyId))
  }))

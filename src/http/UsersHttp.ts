import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { WalletService } from "../wallet/WalletService.ts"
import { WalletApi } from "./Api.ts"

export const UsersHttpLive = HttpApiBuilder.group(WalletApi, "users", (handlers) =>
  Effect.gen(function*() {
    const wallets = yield* WalletService
    return handlers.handle("create", ({ payload }) => wallets.createUser(payload))
  }))

import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { Liveness } from "../domain/Http.ts"
import { WalletService } from "../wallet/WalletService.ts"
import { WalletApi } from "./Api.ts"
import { RequestGate } from "./RequestGate.ts"

const alive = new Liveness({ status: "ok" })

export const HealthHttpLive = HttpApiBuilder.group(WalletApi, "health", (handlers) =>
  Effect.gen(function*() {
    const wallets = yield* WalletService
    const gate = yield* RequestGate
    return handlers
      .handle("check", () => wallets.health)
      .handle("live", () => Effect.succeed(alive))
      .handle("ready", () => Effect.zipRight(gate.refuseWhileDraining, wallets.health))
  }))

import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { ReconciliationService } from "../wallet/ReconciliationService.ts"
import { WalletApi } from "./Api.ts"

export const ReconciliationHttpLive = HttpApiBuilder.group(WalletApi, "reconciliation", (handlers) =>
  Effect.gen(function*() {
    const reconciliation = yield* ReconciliationService
    return handlers.handle("reconcile", () => reconciliation.reconcile)
  }))

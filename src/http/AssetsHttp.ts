import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { AssetService } from "../wallet/AssetService.ts"
import { WalletApi } from "./Api.ts"

export const AssetsHttpLive = HttpApiBuilder.group(WalletApi, "assets", (handlers) =>
  Effect.gen(function*() {
    const assets = yield* AssetService
    return handlers
      .handle("list", () => assets.list)
      .handle("create", ({ payload }) => assets.create(payload))
      .handle("update", ({ path, payload }) => assets.update(path.code, payload))
  }))

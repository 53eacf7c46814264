import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { type AssetCode, AssetExists, AssetList, AssetNotFound, type AssetUpdate, type NewAsset } from "../domain/Asset.ts"
import { AssetRepository } from "../ledger/AssetRepository.ts"
import { retryOnConflict } from "./TransactionRetry.ts"

/** Listing, creating and changing the currencies the ledger holds. */
export class AssetService extends Effect.Service<AssetService>()("AssetService", {
  effect: Effect.gen(function*() {
    const assets = yield* AssetRepository

    const list = Effect.map(assets.list, (all) => new AssetList({ assets: all })).pipe(Effect.withSpan("AssetService.list"))

    const create = Effect.fn("AssetService.create")(function*(request: NewAsset) {
      const created = yield* assets.create(request)
      return yield* Option.match(created, {
        onNone: () => Effect.fail(AssetExists.of(request.code)),
        onSome: Effect.succeed
      })
    })

    const update = Effect.fn("AssetService.update")(function*(code: AssetCode, request: AssetUpdate) {
      // A new maxDebt locks every wallet of the asset in the cascade's order, not the ascending
      // order the committer keeps, so it can deadlock with a batch: run it again then (one statement).
      const updated = yield* retryOnConflict(assets.update(code, request))
      return yield* Option.match(updated, {
        onNone: () => Effect.fail(AssetNotFound.of(code)),
        onSome: Effect.succeed
      })
    })

    return { list, create, update } as const
  })
}) {}

import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { Holds } from "../wallet/Holds.ts"
import { WalletApi } from "./Api.ts"
import { origin, respond, respondWith } from "./WriteAnswer.ts"

/** A void answers 200 (it creates no hold), its replays too. */
const respondToVoid = respondWith(200)

export const HoldsHttpLive = HttpApiBuilder.group(WalletApi, "holds", (handlers) =>
  Effect.gen(function*() {
    const holds = yield* Holds
    return handlers
      .handle("create", ({ headers, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => holds.create(payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("capture", ({ headers, path, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => holds.capture(path.holdId, payload, headers["idempotency-key"], id, by)),
          Effect.map(respond)
        ))
      .handle("void", ({ headers, path, payload }) =>
        origin.pipe(
          Effect.flatMap(([id, by]) => holds.void(path.holdId, payload, headers["idempotency-key"], id, by)),
          Effect.map(respondToVoid)
        ))
      .handle("get", ({ path }) => holds.get(path.holdId))
      .handle("list", ({ urlParams }) => holds.list(urlParams))
  }))

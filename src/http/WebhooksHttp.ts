import { HttpApiBuilder } from "@effect/platform"
import * as Effect from "effect/Effect"
import { Webhooks } from "../wallet/Webhooks.ts"
import { WalletApi } from "./Api.ts"

export const WebhooksHttpLive = HttpApiBuilder.group(WalletApi, "webhooks", (handlers) =>
  Effect.map(Webhooks, (webhooks) =>
    handlers
      .handle("create", ({ payload }) => webhooks.create(payload))
      .handle("list", () => webhooks.list)
      .handle("remove", ({ path }) => webhooks.remove(path.webhookId))
      .handle("deliveries", ({ path, urlParams }) => webhooks.deliveries(path.webhookId, urlParams.limit))))

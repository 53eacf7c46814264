import * as Config from "effect/Config"
import * as Effect from "effect/Effect"
import { randomBytes, randomUUID } from "node:crypto"
import {
  CreatedWebhook,
  Delivery,
  DeliveryList,
  DeliveriesLimitDefault,
  type NewWebhook,
  refusedHost,
  WebhookId,
  WebhookInfo,
  WebhookLimit,
  WebhookList,
  WebhookNotFound,
  WebhookSecretPrefix,
  WebhooksMax,
  WebhookUrlRefused
} from "../domain/Webhook.ts"
import { type WebhookRow, WebhookRepository } from "../ledger/WebhookRepository.ts"

export const WebhookUrlConfig = Config.all({
  /** Lets a webhook call link-local and metadata addresses: only where no metadata service is reachable. */
  allowPrivate: Config.boolean("WEBHOOK_ALLOW_PRIVATE").pipe(Config.withDefault(false))
})

const infoOf = (row: WebhookRow) => new WebhookInfo(row, true)

/** The admin's webhook endpoints: created with a secret shown once, listed, deleted, their deliveries. */
export class Webhooks extends Effect.Service<Webhooks>()("Webhooks", {
  effect: Effect.gen(function*() {
    const config = yield* WebhookUrlConfig
    const repository = yield* WebhookRepository

    const create = Effect.fn("Webhooks.create")(function*(request: NewWebhook) {
      const refused = config.allowPrivate ? undefined : refusedHost(request.url)
      if (refused !== undefined) {
        return yield* new WebhookUrlRefused({ message: `${refused}; set WEBHOOK_ALLOW_PRIVATE=true to allow it` })
      }
      // 32 random bytes: Standard Webhooks asks for 24 to 64.
      const secret = `${WebhookSecretPrefix}${randomBytes(32).toString("base64")}`
      const row = yield* repository.create({
        id: WebhookId.make(randomUUID()),
        url: request.url,
        eventTypes: request.eventTypes ?? null,
        description: request.description ?? null,
        secret
      }, WebhooksMax)
      if (row === undefined) return yield* WebhookLimit.of(WebhooksMax)
      return new CreatedWebhook({ ...row, secret }, true)
    })

    const list = repository.list.pipe(Effect.map((rows) => new WebhookList({ webhooks: rows.map(infoOf) }, true)))

    const remove = Effect.fn("Webhooks.remove")(function*(id: WebhookId) {
      if (!(yield* repository.remove(id))) return yield* WebhookNotFound.of(id)
    })

    const deliveries = Effect.fn("Webhooks.deliveries")(function*(id: WebhookId, limit: number | undefined) {
      const rows = yield* repository.deliveries(id, limit ?? DeliveriesLimitDefault)
      if (rows.length === 0 && !(yield* repository.exists(id))) return yield* WebhookNotFound.of(id)
      return new DeliveryList({ deliveries: rows.map((row) => new Delivery(row, true)) }, true)
    })

    return { create, list, remove, deliveries } as const
  })
}) {}

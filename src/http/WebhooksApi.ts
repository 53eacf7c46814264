import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import * as Schema from "effect/Schema"
import {
  CreatedWebhook,
  DeliveryList,
  DeliveryQuery,
  NewWebhook,
  WebhookId,
  WebhookLimit,
  WebhookList,
  WebhookNotFound,
  WebhooksMax,
  WebhookUrlRefused
} from "../domain/Webhook.ts"
import { needsAdmin } from "./Auth.ts"

const WebhookPath = Schema.Struct({ webhookId: WebhookId })

/** Signed webhooks (Standard Webhooks); every endpoint needs the admin scope. */
export class WebhooksApi extends HttpApiGroup.make("webhooks")
  .annotate(OpenApi.Description, "Endpoints that receive every event, signed (Standard Webhooks), at least once, and their deliveries.")
  .add(
    HttpApiEndpoint.post("create", "/webhooks")
      .setPayload(NewWebhook)
      .addSuccess(CreatedWebhook, { status: 201 })
      .addError(WebhookLimit)
      .addError(WebhookUrlRefused)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Add a webhook endpoint; its signing secret is in this answer only")
      .annotate(
        OpenApi.Description,
        "Every event numbered from now on (of eventTypes, or every type) is POSTed to url as the feed shows it, with " +
          "headers webhook-id (the event id), webhook-timestamp (unix seconds) and webhook-signature: v1,<base64 " +
          "HMAC-SHA256 of \"{id}.{timestamp}.{body}\" keyed with the secret's base64-decoded bytes after whsec_>. A 2xx " +
          "acknowledges; anything else or no answer within WEBHOOK_TIMEOUT is retried on WEBHOOK_RETRY_SCHEDULE; 410 " +
          "disables the endpoint. Link-local and metadata addresses are refused (422) unless WEBHOOK_ALLOW_PRIVATE=true. " +
          `At most ${WebhooksMax} endpoints.`
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/webhooks")
      .addSuccess(WebhookList)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Every webhook endpoint, without secrets")
  )
  .add(
    HttpApiEndpoint.del("remove", "/webhooks/:webhookId")
      .setPath(WebhookPath)
      .addSuccess(Schema.Void, { status: 204 })
      .addError(WebhookNotFound)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "Delete a webhook endpoint and its deliveries")
  )
  .add(
    HttpApiEndpoint.get("deliveries", "/webhooks/:webhookId/deliveries")
      .setPath(WebhookPath)
      .setUrlParams(DeliveryQuery)
      .addSuccess(DeliveryList)
      .addError(WebhookNotFound)
      .pipe(needsAdmin)
      .annotate(OpenApi.Summary, "A webhook's deliveries, the newest events first: status, attempts, last answer, next retry")
  )
{}

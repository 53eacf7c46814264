import { HttpApiSchema } from "@effect/platform"
import * as Schema from "effect/Schema"
import { errorCode } from "./ErrorCode.ts"
import { EventId, EventSequence, EventType, EventTypes } from "./Event.ts"
import { BoundedText, PositiveIntFromString } from "./Limits.ts"

/**
 * Webhooks, as Standard Webhooks (standardwebhooks.com) describes them: each event is POSTed
 * with webhook-id, webhook-timestamp and webhook-signature (v1, an HMAC-SHA256 keyed with the
 * endpoint's secret), retried on a schedule until a 2xx.
 */
export const WebhookId = Schema.UUID.pipe(Schema.brand("WebhookId"), Schema.annotations({ description: "Id of a webhook endpoint" }))
export type WebhookId = typeof WebhookId.Type

/** Endpoints at most: each one is a delivery per event, and deliveries are what a process sends. */
export const WebhooksMax = 20
export const WebhookUrlMaxChars = 2_048
export const WebhookDescriptionMaxChars = 256
export const WebhookSecretPrefix = "whsec_"

export const WebhookUrl = BoundedText({ minChars: 1, maxChars: WebhookUrlMaxChars }).pipe(
  Schema.filter((text) => {
    if (!URL.canParse(text)) return "expected an absolute URL"
    const url = new URL(text)
    if (url.protocol !== "http:" && url.protocol !== "https:") return "expected an http or https URL"
    if (url.username !== "" || url.password !== "") return "expected no user name or password in the URL"
    return true
  }),
  Schema.annotations({ description: `http or https, at most ${WebhookUrlMaxChars} characters` })
)

/** One to all of the known types, each once. */
export const WebhookEventTypes = Schema.Array(EventType).pipe(
  Schema.minItems(1),
  Schema.maxItems(EventTypes.length),
  Schema.filter((types) => new Set(types).size === types.length || "expected each type at most once")
)

export class NewWebhook extends Schema.Class<NewWebhook>("NewWebhook")({
  url: WebhookUrl,
  eventTypes: Schema.optional(WebhookEventTypes).annotations({ description: "Omitted: every type, present and future" }),
  description: Schema.optional(BoundedText({ minChars: 0, maxChars: WebhookDescriptionMaxChars }))
}) {}

export const WebhookStatus = Schema.Literal("ACTIVE", "DISABLED")

/** An endpoint as listed: never its secret. */
export class WebhookInfo extends Schema.Class<WebhookInfo>("WebhookInfo")({
  webhookId: WebhookId,
  url: Schema.String,
  eventTypes: Schema.NullOr(Schema.Array(EventType)).annotations({ description: "null: every type" }),
  description: Schema.NullOr(Schema.String),
  status: WebhookStatus.annotations({ description: "DISABLED after an endpoint answered 410 Gone" }),
  createdAt: Schema.Date,
  disabledAt: Schema.NullOr(Schema.Date)
}) {}

export class CreatedWebhook extends Schema.Class<CreatedWebhook>("CreatedWebhook")({
  webhookId: WebhookId,
  url: Schema.String,
  eventTypes: Schema.NullOr(Schema.Array(EventType)),
  description: Schema.NullOr(Schema.String),
  secret: Schema.String.annotations({
    description: "whsec_ and the base64 of 32 random bytes: the signing key (its base64-decoded bytes). Shown in this answer only"
  }),
  createdAt: Schema.Date
}) {}

export class WebhookList extends Schema.Class<WebhookList>("WebhookList")({
  webhooks: Schema.Array(WebhookInfo)
}) {}

export const DeliveryStatus = Schema.Literal("PENDING", "DELIVERED", "FAILED")

export class Delivery extends Schema.Class<Delivery>("Delivery")({
  eventId: EventId,
  sequence: EventSequence,
  status: DeliveryStatus.annotations({ description: "FAILED: the retry schedule ran out, or the endpoint answered 410" }),
  attempt: Schema.Int.annotations({ description: "Attempts started so far" }),
  responseStatus: Schema.NullOr(Schema.Int).annotations({ description: "The last attempt's HTTP status; null without an answer" }),
  error: Schema.NullOr(Schema.String).annotations({ description: "Why the last attempt failed without a status (timeout, refused)" }),
  lastAttemptAt: Schema.NullOr(Schema.Date),
  nextAttemptAt: Schema.NullOr(Schema.Date).annotations({ description: "The next retry while PENDING; null once settled" })
}) {}

export const DeliveriesLimitMax = 100
export const DeliveriesLimitDefault = 50

export const DeliveryQuery = Schema.Struct({
  limit: Schema.optional(PositiveIntFromString(DeliveriesLimitMax).pipe(Schema.greaterThanOrEqualTo(1))).annotations({
    description: `1 to ${DeliveriesLimitMax}, default ${DeliveriesLimitDefault}`
  })
})

export class DeliveryList extends Schema.Class<DeliveryList>("DeliveryList")({
  deliveries: Schema.Array(Delivery).annotations({ description: "The newest events first" })
}) {}

export class WebhookNotFound extends Schema.TaggedError<WebhookNotFound>()(
  "WebhookNotFound",
  { code: errorCode("WEBHOOK_NOT_FOUND"), message: Schema.String, webhookId: Schema.String },
  HttpApiSchema.annotations({ status: 404 })
) {
  static of(webhookId: string) {
    return new WebhookNotFound({ webhookId, message: `Webhook ${webhookId} does not exist` })
  }
}

export class WebhookLimit extends Schema.TaggedError<WebhookLimit>()(
  "WebhookLimit",
  { code: errorCode("WEBHOOK_LIMIT"), message: Schema.String, limit: Schema.Number },
  HttpApiSchema.annotations({ status: 409 })
) {
  static of(limit: number) {
    return new WebhookLimit({ limit, message: `At most ${limit} webhooks may exist; delete unused ones first` })
  }
}

export class WebhookUrlRefused extends Schema.TaggedError<WebhookUrlRefused>()(
  "WebhookUrlRefused",
  { code: errorCode("WEBHOOK_URL_REFUSED"), message: Schema.String },
  HttpApiSchema.annotations({ status: 422 })
) {}

/** Host names of cloud metadata services (their addresses are link-local or listed below). */
const metadataNames = new Set(["metadata", "metadata.google.internal", "metadata.goog", "instance-data", "instance-data.ec2.internal"])
/** Metadata addresses outside 169.254.0.0/16: Alibaba Cloud's, and AWS's over IPv6. */
const metadataAddresses = new Set(["100.100.100.200", "[fd00:ec2::254]"])

/**
 * Why a webhook's host may not be called, or undefined: link-local addresses (169.254.0.0/16,
 * fe80::/10, and IPv4-mapped ones) and cloud metadata services, where a URL would reach the
 * host's credentials. The URL parser has already normalised the host (2852039166 and
 * 0xa9.0xfe.0xa9.0xfe are 169.254.169.254 by then). A name that resolves to such an address is
 * not seen here (README, "Webhooks"). Loopback and private networks are allowed.
 */
export const refusedHost = (url: string): string | undefined => {
  const host = new URL(url).hostname.toLowerCase().replace(/\.$/, "")
  if (metadataNames.has(host) || metadataAddresses.has(host)) return `${host} is a cloud metadata service`
  if (/^169\.254\.\d+\.\d+$/.test(host)) return `${host} is a link-local address (169.254.0.0/16)`
  if (/^\[fe[89ab][0-9a-f]?:/.test(host)) return `${host} is a link-local address (fe80::/10)`
  if (/^\[::ffff:a9fe:[0-9a-f]{1,4}\]$/.test(host)) return `${host} is a link-local address (169.254.0.0/16)`
  return undefined
}

import { createHmac } from "node:crypto"
import { WebhookSecretPrefix } from "../domain/Webhook.ts"

/**
 * Standard Webhooks' signature: `v1,` and the base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`,
 * keyed with the base64-decoded bytes of the secret after its `whsec_` prefix.
 */
export const signature = (secret: string, id: string, timestampSeconds: number, body: string): string => {
  const key = Buffer.from(secret.slice(WebhookSecretPrefix.length), "base64")
  return `v1,${createHmac("sha256", key).update(`${id}.${timestampSeconds}.${body}`).digest("base64")}`
}

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { type EventJson, readFeedUntil } from "../support/Events.ts"
import { getJson, newPlayer, postJson, startService, type TestService, uniqueKey } from "../support/TestService.ts"
import { startReceiver, verify } from "../support/WebhookReceiver.ts"

/**
 * Signed webhooks against a real receiver: every event POSTed with Standard Webhooks headers
 * that an independent implementation verifies, retries on the (shortened) schedule, 410
 * disabling the endpoint, URL checks and limits.
 */
let service: TestService
const receiver = startReceiver((path, count) =>
  path === "/fail-twice" ? (count <= 2 ? 503 : 204)
  : path === "/always-500" ? 500
  : path === "/gone" ? 410
  : path === "/hang" ? "hang"
  : 200
)
beforeAll(async () => {
  service = await startService({
    WEBHOOK_RETRY_SCHEDULE: "200ms,300ms",
    WEBHOOK_TIMEOUT: "1 second",
    EVENTS_POLL_INTERVAL: "100 millis"
  })
})
afterAll(async () => {
  await service.dispose()
  receiver.stop()
})

const createWebhook = async (path: string, extra: Record<string, unknown> = {}) => {
  const created = await postJson(service, "/api/webhooks", { url: receiver.url(path), ...extra })
  expect(created.status).toBe(201)
  return created.body as { webhookId: string; secret: string; url: string; eventTypes: unknown; createdAt: string }
}

const topup = async (userId: number) => {
  const written = await postJson(service, "/api/wallets/topup", { userId, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey("wh") })
  expect(written.status).toBe(201)
  return written.body.transactionId as string
}

const until = async <A>(probe: () => Promise<A | undefined>, timeoutMs = 15_000): Promise<A> => {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const found = await probe()
    if (found !== undefined) return found
    await Bun.sleep(50)
  }
  throw new Error("Timed out waiting")
}

const deliveries = async (webhookId: string) => {
  const answer = await getJson(service, `/api/webhooks/${webhookId}/deliveries`)
  expect(answer.status).toBe(200)
  return answer.body.deliveries as Array<{ eventId: string; status: string; attempt: number; responseStatus: number | null; error: string | null; nextAttemptAt: string | null }>
}

describe("delivery", () => {
  test("an event is POSTed once with headers an independent implementation verifies; a tampered body or an old timestamp does not verify", async () => {
    const hook = await createWebhook("/ok", { eventTypes: ["transaction.posted"], description: "the shop" })
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/)
    expect(Buffer.from(hook.secret.slice(6), "base64").length).toBe(32)
    const player = await newPlayer(service, "wh_sig")
    const transactionId = await topup(player)
    const message = await until(async () => receiver.received.find((r) => r.path === "/ok" && JSON.parse(r.body).data.transactionId === transactionId))
    const event = JSON.parse(message.body) as EventJson
    expect(message.id).toBe(event.id)
    expect(verify(hook.secret, message)).toBe(true)
    expect(verify(hook.secret, { ...message, body: message.body.replace('"amount":1', '"amount":2') })).toBe(false)
    expect(verify(hook.secret, message, Number(message.timestamp) + 600)).toBe(false)
    expect(verify(`whsec_${Buffer.alloc(32, 7).toString("base64")}`, message)).toBe(false)
    // The body is the feed's event, whose data is the transaction's lookup.
    const lookup = await getJson(service, `/api/transactions/${transactionId}`)
    expect(event.data).toEqual(lookup.body as EventJson["data"])
    const feed = await readFeedUntil(service, event.sequence)
    expect(JSON.stringify(feed.find((e) => e.id === event.id))).toBe(message.body)
    const listed = await until(async () => (await deliveries(hook.webhookId)).find((d) => d.eventId === event.id && d.status === "DELIVERED"))
    expect(listed).toMatchObject({ attempt: 1, responseStatus: 200, error: null, nextAttemptAt: null })
    // Nothing else came for this event: one attempt, acknowledged.
    expect(receiver.received.filter((r) => r.path === "/ok" && r.id === event.id).length).toBe(1)
  })

  test("failures are retried on WEBHOOK_RETRY_SCHEDULE with the same id and body; past the schedule the delivery is FAILED", async () => {
    const flaky = await createWebhook("/fail-twice")
    const broken = await createWebhook("/always-500")
    const player = await newPlayer(service, "wh_retry")
    const transactionId = await topup(player)
    const delivered = await until(async () => (await deliveries(flaky.webhookId)).find((d) => d.status === "DELIVERED"))
    expect(delivered).toMatchObject({ attempt: 3, responseStatus: 204 })
    const failed = await until(async () => (await deliveries(broken.webhookId)).find((d) => d.status === "FAILED"))
    // Two waits in the schedule: three attempts, then FAILED.
    expect(failed).toMatchObject({ attempt: 3, responseStatus: 500, nextAttemptAt: null })
    for (const path of ["/fail-twice", "/always-500"]) {
      const attempts = receiver.received.filter((r) => r.path === path)
      expect(attempts.length).toBe(3)
      expect(new Set(attempts.map((r) => r.id)).size).toBe(1)
      expect(new Set(attempts.map((r) => r.body)).size).toBe(1)
      expect(JSON.parse(attempts[0]!.body).data.transactionId).toBe(transactionId)
      expect(attempts.every((r) => verify(path === "/fail-twice" ? flaky.secret : broken.secret, r))).toBe(true)
    }
    for (const hook of [flaky, broken]) expect((await service.fetch(`/api/webhooks/${hook.webhookId}`, { method: "DELETE" })).status).toBe(204)
  }, 30_000)

  test("410 Gone fails the delivery and disables the endpoint; no answer within WEBHOOK_TIMEOUT is retried", async () => {
    const gone = await createWebhook("/gone")
    const hanging = await createWebhook("/hang")
    const player = await newPlayer(service, "wh_gone")
    await topup(player)
    const failed = await until(async () => (await deliveries(gone.webhookId)).find((d) => d.status === "FAILED"))
    expect(failed).toMatchObject({ attempt: 1, responseStatus: 410 })
    const listed = await getJson(service, "/api/webhooks")
    const info = (listed.body.webhooks as Array<Record<string, unknown>>).find((w) => w.webhookId === gone.webhookId)!
    expect(info.status).toBe("DISABLED")
    expect(info.disabledAt).not.toBeNull()
    expect(info.secret).toBeUndefined()
    const sent = receiver.received.filter((r) => r.path === "/gone").length
    await topup(player)
    const timedOut = await until(async () => (await deliveries(hanging.webhookId)).find((d) => d.attempt >= 2 && d.error !== null))
    expect(timedOut.error).toContain("No answer within 1000 ms")
    expect(timedOut.responseStatus).toBeNull()
    // The disabled endpoint got nothing more: its later event has no delivery.
    expect(receiver.received.filter((r) => r.path === "/gone").length).toBe(sent)
    expect((await deliveries(gone.webhookId)).length).toBe(1)
    for (const hook of [gone, hanging]) expect((await service.fetch(`/api/webhooks/${hook.webhookId}`, { method: "DELETE" })).status).toBe(204)
  }, 30_000)
})

describe("endpoints", () => {
  test("URLs: http or https only, no link-local or metadata address, bounded; loopback is allowed", async () => {
    for (const url of ["ftp://127.0.0.1/x", "not a url", "http://user:pw@127.0.0.1/", `http://127.0.0.1/${"x".repeat(2_050)}`]) {
      const answer = await postJson(service, "/api/webhooks", { url })
      expect({ url: url.slice(0, 40), status: answer.status }).toEqual({ url: url.slice(0, 40), status: 400 })
    }
    for (const url of ["http://169.254.169.254/latest", "http://2852039166/", "http://metadata.google.internal/", "http://[fe80::1]/", "http://100.100.100.200/"]) {
      const answer = await postJson(service, "/api/webhooks", { url })
      expect({ url, status: answer.status, code: answer.body.code }).toEqual({ url, status: 422, code: "WEBHOOK_URL_REFUSED" })
    }
    expect((await postJson(service, "/api/webhooks", { url: receiver.url("/ok"), eventTypes: ["nope"] })).status).toBe(400)
    expect((await postJson(service, "/api/webhooks", { url: receiver.url("/ok"), eventTypes: [] })).status).toBe(400)
  })

  test(`at most 20 endpoints; a deleted one is gone with its deliveries`, async () => {
    const listed = await getJson(service, "/api/webhooks")
    const existing = (listed.body.webhooks as Array<unknown>).length
    const made: Array<string> = []
    for (let i = existing; i < 20; i++) made.push((await createWebhook(`/many/${i}`)).webhookId)
    const refused = await postJson(service, "/api/webhooks", { url: receiver.url("/one-too-many") })
    expect({ status: refused.status, code: refused.body.code }).toEqual({ status: 409, code: "WEBHOOK_LIMIT" })
    for (const id of made) expect((await service.fetch(`/api/webhooks/${id}`, { method: "DELETE" })).status).toBe(204)
    expect((await service.fetch(`/api/webhooks/${made[0]}`, { method: "DELETE" })).status).toBe(404)
    expect((await getJson(service, `/api/webhooks/${made[0]}/deliveries`)).status).toBe(404)
    expect((await getJson(service, `/api/webhooks/${made[0]}/deliveries?limit=0`)).status).toBe(400)
  })
})

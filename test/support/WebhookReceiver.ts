import { createHmac, timingSafeEqual } from "node:crypto"

/** One request a receiver got: headers and the body's exact text. */
export interface Received {
  readonly path: string
  readonly id: string
  readonly timestamp: string
  readonly signature: string
  readonly body: string
}

/**
 * A real HTTP receiver on 127.0.0.1: records every POST and answers, after `delayMs`, with what
 * `answer` says for its path (200 unless told otherwise; "hang" answers nothing for 30 s).
 */
export const startReceiver = (answer: (path: string, count: number) => number | "hang" = () => 200, delayMs = 0) => {
  const received: Array<Received> = []
  const counts = new Map<string, number>()
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    fetch: async (request) => {
      const path = new URL(request.url).pathname
      const body = await request.text()
      const count = (counts.get(path) ?? 0) + 1
      counts.set(path, count)
      received.push({
        path,
        id: request.headers.get("webhook-id") ?? "",
        timestamp: request.headers.get("webhook-timestamp") ?? "",
        signature: request.headers.get("webhook-signature") ?? "",
        body
      })
      const status = answer(path, count)
      if (delayMs > 0) await Bun.sleep(delayMs)
      if (status === "hang") await Bun.sleep(30_000)
      return new Response(null, { status: status === "hang" ? 200 : status })
    }
  })
  return {
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    received,
    stop: () => server.stop(true)
  }
}

/**
 * Standard Webhooks verification, written from the specification and independent of the
 * service's code: the HMAC-SHA256 of "{id}.{timestamp}.{body}" keyed with the secret's bytes,
 * compared in constant time, and a timestamp within `toleranceSeconds` of now.
 */
export const verify = (secret: string, message: Received, nowSeconds = Date.now() / 1000, toleranceSeconds = 300): boolean => {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64")
  const expected = createHmac("sha256", key).update(`${message.id}.${message.timestamp}.${message.body}`).digest()
  if (Math.abs(nowSeconds - Number(message.timestamp)) > toleranceSeconds) return false
  return message.signature.split(" ").some((candidate) => {
    const [version, value] = candidate.split(",")
    const given = Buffer.from(value ?? "", "base64")
    return version === "v1" && given.length === expected.length && timingSafeEqual(given, expected)
  })
}

import { expect, test } from "bun:test"
import * as Either from "effect/Either"
import { refusedHost } from "../../src/domain/Webhook.ts"
import { parseRetrySchedule } from "../../src/jobs/WebhookDelivery.ts"
import { signature } from "../../src/jobs/WebhookSignature.ts"

test("the signature matches the Standard Webhooks specification's published example", () => {
  expect(signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}'))
    .toBe("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
})

test("link-local and metadata hosts are refused, however written; loopback and private networks are not", () => {
  for (const url of ["http://169.254.169.254/", "http://2852039166/", "http://0xa9.0xfe.0xa9.0xfe/", "http://[fe80::1]/", "http://[::ffff:169.254.169.254]/", "http://METADATA.google.internal./", "http://100.100.100.200/", "http://[fd00:ec2::254]/"]) {
    expect({ url, refused: refusedHost(url) !== undefined }).toEqual({ url, refused: true })
  }
  for (const url of ["http://127.0.0.1:8080/", "http://localhost/", "http://[::1]/", "https://10.0.0.5/", "https://shop.example/hooks", "http://169.255.0.1/"]) {
    expect({ url, refused: refusedHost(url) }).toEqual({ url, refused: undefined })
  }
})

test("WEBHOOK_RETRY_SCHEDULE: waits with units, in order; anything else is refused", () => {
  expect(parseRetrySchedule("5s,5m,30m,2h,5h,10h,10h")).toEqual(Either.right([5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000]))
  expect(parseRetrySchedule("200ms, 1d")).toEqual(Either.right([200, 86_400_000]))
  for (const text of ["", "5", "5 seconds", "5s,,5s", "-1s", Array(21).fill("1s").join(",")]) {
    expect({ text, ok: Either.isRight(parseRetrySchedule(text)) }).toEqual({ text, ok: false })
  }
})

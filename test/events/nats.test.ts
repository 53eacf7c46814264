import { afterAll, expect, test } from "bun:test"
import pg from "pg"
import { expectGapFree, readFeedUntil } from "../support/Events.ts"
import { freshDatabaseWithProcesses } from "../support/FaultRun.ts"
import { connectOrSkip, natsUrl, testStream } from "../support/Nats.ts"
import { post } from "../support/ServiceProcess.ts"
import { testAdminKey } from "../support/TestApiKey.ts"
import { postJson, startService, uniqueKey } from "../support/TestService.ts"

/**
 * The NATS JetStream relay against the machine's NATS server: a consumer receives every event
 * once by Nats-Msg-Id, in sequence order, with the feed's JSON, and again so after the service
 * is killed mid-run and started over on the same database. Skipped, saying why, only when no
 * NATS server answers.
 */
const connection = await connectOrSkip("events/nats.test.ts")
const natsTest = connection === undefined ? test.skip : test
afterAll(() => connection?.close())

natsTest("every event is published once, in sequence order, to <prefix>.<type> with Nats-Msg-Id = event id", async () => {
  const stream = await testStream(connection!, "relay")
  const service = await startService({ EVENTS_NATS_URL: natsUrl, EVENTS_NATS_SUBJECT_PREFIX: stream.subjectPrefix })
  try {
    for (let i = 0; i < 30; i++) {
      const answer = await postJson(service, "/api/wallets/topup", { userId: 2, assetCode: "GOLD_COINS", amount: 1, idempotencyKey: uniqueKey("nats") })
      expect(answer.status).toBe(201)
    }
    const feed = await readFeedUntil(service, 30)
    expect(feed.length).toBe(30)
    const received = await stream.receive(30)
    expect(received.map((m) => m.msgId)).toEqual(feed.map((event) => event.id))
    expect(received.map((m) => m.body)).toEqual(feed.map((event) => JSON.stringify(event)))
    expect(new Set(received.map((m) => m.subject))).toEqual(new Set([`${stream.subjectPrefix}.transaction.posted`]))
    await Bun.sleep(300)
    expect(await stream.storedCount()).toBe(30)
  } finally {
    await service.dispose()
    await stream.remove()
  }
}, 60_000)

const fresh = freshDatabaseWithProcesses()

natsTest("after a SIGKILL mid-run and a restart, the relay resumes from its stored sequence: every event once by Nats-Msg-Id", async () => {
  const stream = await testStream(connection!, "restart")
  const env = { EVENTS_NATS_URL: natsUrl, EVENTS_NATS_SUBJECT_PREFIX: stream.subjectPrefix, EVENTS_POLL_INTERVAL: "100 millis" }
  try {
    const first = await fresh.startProcess(env)
    const write = (baseUrl: string) => post(baseUrl, "/api/wallets/bonus", { userId: 3, assetCode: "DIAMONDS", amount: 1, idempotencyKey: uniqueKey("nats") })
    // Writes in flight when the process dies: some commit, some do not; only committed ones have events.
    const inFlight = Array.from({ length: 8 }, async () => {
      for (let i = 0; i < 40; i++) {
        const outcome = await write(first.baseUrl)
        if (outcome._tag !== "Answered") return
      }
    })
    await Bun.sleep(300)
    first.child.kill("SIGKILL")
    await Promise.all(inFlight)
    const second = await fresh.startProcess(env)
    for (let i = 0; i < 20; i++) expect((await write(second.baseUrl))).toMatchObject({ _tag: "Answered", status: 201 })
    const client = new pg.Client({ connectionString: await fresh.databaseUrl() })
    await client.connect()
    const total = Number((await client.query("SELECT count(*) AS n FROM events")).rows[0].n)
    await client.end()
    const viaFeed = { fetch: (path: string) => fetch(second.baseUrl + path, { headers: { authorization: `Bearer ${testAdminKey}` } }) }
    const feed = await readFeedUntil(viaFeed, total)
    expectGapFree(feed)
    expect(feed.length).toBe(total)
    const received = await stream.receive(total)
    expect(received.map((m) => m.msgId)).toEqual(feed.map((event) => event.id))
    await Bun.sleep(300)
    expect(await stream.storedCount()).toBe(total)
  } finally {
    await stream.remove()
  }
}, 90_000)

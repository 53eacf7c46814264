import { afterAll, expect, test } from "bun:test"
import pg from "pg"
import { allAssets, checkRun, faultLoad, freshDatabaseWithProcesses, openingBalances, workload } from "../support/FaultRun.ts"
import type { ServiceProcess } from "../support/ServiceProcess.ts"
import { post } from "../support/ServiceProcess.ts"
import { startReceiver, verify } from "../support/WebhookReceiver.ts"

/**
 * Webhooks at least once, whatever crashes: a service is SIGKILLed while 1,000 writes and their
 * deliveries are in flight (the receiver answers slowly, so attempts are cut mid-way), then
 * started again. Every committed transaction's event must reach the receiver at least once,
 * every copy of one event must be the same id and bytes (and verify), and nothing else may
 * arrive. The writes themselves must still apply exactly once (checkRun).
 */
const writes = 1_000
// Slow answers keep deliveries in flight when a process dies.
const receiver = startReceiver(() => 200, 20)
const slowReceiver = startReceiver(() => 200, 50)
afterAll(() => {
  receiver.stop()
  slowReceiver.stop()
})

const env = {
  EVENTS_POLL_INTERVAL: "100 millis",
  // A short timeout makes a short lease (timeout + 5 s): a killed process's claims come back soon.
  WEBHOOK_TIMEOUT: "1 second",
  WEBHOOK_RETRY_SCHEDULE: "200ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s"
}

/** The events committed on the database, once the sequencer has numbered every one. */
const committedEvents = async (databaseUrl: string) => {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await Bun.sleep(100)) {
      const { rows } = await client.query<{ unnumbered: string }>("SELECT count(*) AS unnumbered FROM events WHERE sequence IS NULL")
      if (Number(rows[0]!.unnumbered) === 0) break
    }
    const events = await client.query<{ id: string; transaction_id: string }>("SELECT id, transaction_id FROM events ORDER BY sequence")
    const transactions = await client.query<{ n: string }>("SELECT count(*) AS n FROM transactions WHERE type <> 'GENESIS'")
    expect(events.rows.length).toBe(Number(transactions.rows[0]!.n))
    return new Map(events.rows.map((row) => [row.id, row.transaction_id]))
  } finally {
    await client.end()
  }
}

/** Waits until every event reached `into`, then checks copies and strays. */
const checkDeliveries = async (scenario: string, into: ReturnType<typeof startReceiver>, secret: string, events: Map<string, string>) => {
  const deadline = Date.now() + 60_000
  const arrived = () => new Set(into.received.map((r) => r.id))
  while (Date.now() < deadline && [...events.keys()].some((id) => !arrived().has(id))) await Bun.sleep(100)
  const copies = new Map<string, Set<string>>()
  for (const message of into.received) copies.set(message.id, (copies.get(message.id) ?? new Set()).add(message.body))
  const missing = [...events.keys()].filter((id) => !copies.has(id))
  const strays = [...copies.keys()].filter((id) => !events.has(id))
  const differing = [...copies].filter(([, bodies]) => bodies.size > 1).map(([id]) => id)
  const unverified = into.received.filter((message) => !verify(secret, message)).map((message) => message.id)
  const mislabelled = into.received.filter((message) => {
    const event = JSON.parse(message.body) as { id: string; data: { transactionId: string } }
    return event.id !== message.id || events.get(event.id) !== event.data.transactionId
  }).map((message) => message.id)
  console.log(
    `[fault] webhooks, ${scenario}: events ${events.size}, requests received ${into.received.length}, ` +
      `duplicates ${into.received.length - copies.size}, missing ${missing.length}`
  )
  expect({ missing, strays, differing, unverified, mislabelled }).toEqual({ missing: [], strays: [], differing: [], unverified: [], mislabelled: [] })
}

const createWebhook = async (baseUrl: string, url: string) => {
  const created = await post(baseUrl, "/api/webhooks", { url })
  expect(created).toMatchObject({ _tag: "Answered", status: 201 })
  return (created as { body: { secret: string } }).body.secret
}

const fresh = freshDatabaseWithProcesses()

test("SIGKILL with 1,000 writes and their deliveries in flight, then a restart: every committed event reaches the receiver, copies identical, nothing else", async () => {
  const databaseUrl = await fresh.databaseUrl()
  const first = await fresh.startProcess(env)
  const secret = await createWebhook(first.baseUrl, receiver.url("/hook"))
  const opening = await openingBalances(databaseUrl)
  let current = first.baseUrl
  const load = faultLoad(workload("webhooks", writes, allAssets), () => [current])
  await load.reached(Math.floor(writes * 0.4))
  first.child.kill("SIGKILL")
  expect(await first.exited).toBe(null)
  const second = await fresh.startProcess(env)
  current = second.baseUrl
  await checkRun("webhooks, SIGKILL and restart", databaseUrl, load, opening)
  await checkDeliveries("SIGKILL and restart", receiver, secret, await committedEvents(databaseUrl))
}, 240_000)

const shared = freshDatabaseWithProcesses()

test("two service processes share the deliveries; one SIGKILLed midway and started again: every event at least once, nothing else", async () => {
  const databaseUrl = await shared.databaseUrl()
  // One after the other: the first migrates the fresh database.
  const services: Array<ServiceProcess> = [await shared.startProcess(env), await shared.startProcess(env)]
  const secret = await createWebhook(services[0]!.baseUrl, slowReceiver.url("/hook"))
  const opening = await openingBalances(databaseUrl)
  const load = faultLoad(workload("webhooks2", writes, allAssets), () => services.map((s) => s.baseUrl))
  await load.reached(Math.floor(writes * 0.4))
  services[0]!.child.kill("SIGKILL")
  expect(await services[0]!.exited).toBe(null)
  services[0] = await shared.startProcess(env)
  await checkRun("webhooks, two processes, one SIGKILLed", databaseUrl, load, opening)
  await checkDeliveries("two processes, one SIGKILLed", slowReceiver, secret, await committedEvents(databaseUrl))
}, 240_000)

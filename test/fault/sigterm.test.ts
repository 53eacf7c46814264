import { expect, test } from "bun:test"
import { allAssets, checkRun, faultLoad, faultWrites, freshDatabaseWithProcesses, openingBalances, workload } from "../support/FaultRun.ts"
import { isReplay } from "../support/RetryingClient.ts"
import { type HttpOutcome, postWrite, request } from "../support/ServiceProcess.ts"

/**
 * A rolling deploy: the replacement is started on the same database, the old process gets
 * SIGTERM under load, and the clients keep sending to it for a while before they move on (as
 * a load balancer does until it notices). The old process must answer every request it took
 * (a 201 or 409 that it committed, or a 503 the client may retry), never drop one with a reset
 * connection; a request that comes too late is refused with a 503 or a refused connection, and
 * the client retries it on the new process.
 */

/** How long the clients keep sending to the old process after its SIGTERM. */
const moveOnAfterMs = 300

const isRefusal = (outcome: HttpOutcome) =>
  outcome._tag === "NoAnswer" ? outcome.reason === "ECONNREFUSED" : outcome.status === 503

/**
 * Once the old process says it drains (readiness 503, or it no longer listens), one more write
 * sent to it must be refused. Whether the load's own clients meet a refusal depends on timing,
 * so this probe is what makes sure the refusal path ran.
 */
const probeRefusal = async (baseUrl: string): Promise<HttpOutcome> => {
  const deadline = Date.now() + 5_000
  while (Date.now() < deadline) {
    const ready = await request(baseUrl, "GET", "/api/health/ready", undefined, 1_000)
    if (isRefusal(ready)) break
    await Bun.sleep(10)
  }
  return postWrite(baseUrl, {
    type: "TOPUP",
    userId: 2,
    assetCode: "GOLD_COINS",
    amount: 1,
    idempotencyKey: `sigterm-probe-${process.pid}-${Date.now()}`
  })
}

const fresh = freshDatabaseWithProcesses()

test("SIGTERM under load: every accepted request is answered, the rest retried on the new process, exactly once", async () => {
  const databaseUrl = await fresh.databaseUrl()
  const first = await fresh.startProcess()
  const opening = await openingBalances(databaseUrl)
  let current = first.baseUrl

  // Patient clients: here every try must end with the old process's own answer or refusal, not
  // with the client giving up on it.
  const load = faultLoad(workload("sigterm", faultWrites, allAssets), () => [current], 15_000)
  const second = await fresh.startProcess()
  await load.reached(Math.floor(faultWrites * 0.4))
  first.child.kill("SIGTERM")
  const probe = probeRefusal(first.baseUrl)
  await Bun.sleep(moveOnAfterMs)
  current = second.baseUrl
  expect(await first.exited).toBe(0)

  const { results } = await checkRun("SIGTERM and replace", databaseUrl, load, opening)
  const toFirst = results.flatMap((r) => r.attempts.filter((a) => a.baseUrl === first.baseUrl))
  const answered = toFirst.filter((a) => a.outcome._tag === "Answered" && a.outcome.status !== 503).length
  const refused = toFirst.filter((a) => isRefusal(a.outcome)).length
  const reset = toFirst.filter((a) => a.outcome._tag === "NoAnswer" && a.outcome.reason !== "ECONNREFUSED")
  console.log(`[fault] SIGTERM and replace: the old process answered ${answered}, refused ${refused} (503 or connection refused)`)
  // No connection reset: the old process answered every request it took, and stopped
  // listening only once the clients had moved on (see RequestGate.stopListening).
  expect(reset.map((a) => a.outcome)).toEqual([])
  // And it answered each with its own outcome: had the answer of a committed write been lost or
  // replaced by a 503, the retry would have met the stored outcome, a replay.
  const replays = results.filter(isReplay).map((r) => ({
    key: r.write.idempotencyKey,
    tries: r.attempts.map((a) =>
      `${a.baseUrl === first.baseUrl ? "old" : "new"} ${a.outcome._tag === "Answered" ? a.outcome.status : a.outcome.reason}`
    )
  }))
  expect(replays).toEqual([])
  const probed = await probe
  expect({ probe: probed, refused: isRefusal(probed) }).toMatchObject({ refused: true })
})

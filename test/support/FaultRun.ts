import { afterAll, expect } from "bun:test"
import * as Layer from "effect/Layer"
import * as ManagedRuntime from "effect/ManagedRuntime"
import * as Redacted from "effect/Redacted"
import { DatabaseUrl } from "../../src/Sql.ts"
import { FreshDatabaseLive } from "./Database.ts"
import { balancesOf, exactlyOnceReport, invariantViolations } from "./ExactlyOnce.ts"
import { noViolations } from "./Invariants.ts"
import { type Load, loadFigures, startLoad } from "./RetryingClient.ts"
import { type ServiceProcess, startServiceProcess, type Write, type WriteType } from "./ServiceProcess.ts"
import { seededRandom } from "./SeededRandom.ts"

/**
 * What the fault suites (test/fault/) share: their sizes, their workload, and the check after
 * a run. Sizes come from the environment so that CI stays quick and a longer run is one
 * variable away: FAULT_WRITES writes per scenario (default 400), FAULT_CLIENTS clients at once
 * (default 16).
 */

const sizeFromEnv = (name: string, fallback: number) => {
  const raw = process.env[name]
  if (raw === undefined || raw === "") return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a whole number of at least 1, not ${raw}`)
  return value
}

export const faultWrites = sizeFromEnv("FAULT_WRITES", 400)
export const faultClients = sizeFromEnv("FAULT_CLIENTS", 16)
/**
 * How long a client waits for one answer before it gives up on that try and retries. Short, as
 * a game server's would be: a try that times out while the service still commits it is the
 * surest way to a write committed and not acknowledged, which the retry must meet as a replay.
 */
export const faultAttemptTimeoutMs = sizeFromEnv("FAULT_ATTEMPT_TIMEOUT_MS", 500)

/**
 * A fresh database for one fault suite, and the service processes the suite starts on it: the
 * processes are killed (if still running) and the database dropped after the suite.
 */
export const freshDatabaseWithProcesses = () => {
  const database = ManagedRuntime.make(Layer.fresh(FreshDatabaseLive))
  const services: Array<ServiceProcess> = []
  afterAll(async () => {
    await Promise.all(services.map((service) => service.kill()))
    await database.dispose()
  })
  const databaseUrl = () => database.runPromise(DatabaseUrl).then(Redacted.value)
  const startProcess = async (env: Record<string, string> = {}) => {
    const service = await startServiceProcess(await databaseUrl(), env)
    services.push(service)
    return service
  }
  return { databaseUrl, startProcess }
}

/** The seeded players and every asset; the opening balances come from the seed migration. */
export const players = [2, 3] as const
export const allAssets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const

/**
 * Topups, bonuses and spends, half of them spends of up to 150, so that balances wander and some
 * spends are refused (409, a final answer that must stay final). Every write touches the
 * treasury's wallet of its asset; with one asset (the hot workload) every write of every
 * process queues on the same row lock. Each write's description is its key: see ExactlyOnce.ts.
 */
export const workload = (label: string, count: number, assets: ReadonlyArray<string>): ReadonlyArray<Write> => {
  const seed = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000)
  const random = seededRandom(seed)
  const pick = <A>(values: ReadonlyArray<A>) => values[Math.floor(random() * values.length)]!
  const run = `${label}-${seed}-${Date.now().toString(36)}`
  return Array.from({ length: count }, (_, i): Write => {
    const type = pick<WriteType>(["TOPUP", "BONUS", "SPEND", "SPEND"])
    const idempotencyKey = `${run}-${i}`
    return {
      type,
      userId: pick(players),
      assetCode: pick(assets),
      amount: 1 + Math.floor(random() * 150),
      idempotencyKey,
      description: idempotencyKey
    }
  })
}

/** The retrying clients with the suite's sizes, over `targets` (read again before every try). */
export const faultLoad = (
  writes: ReadonlyArray<Write>,
  targets: () => ReadonlyArray<string>,
  attemptTimeoutMs = faultAttemptTimeoutMs
) => startLoad({ writes, clients: faultClients, targets, attemptTimeoutMs })

export const openingBalances = (databaseUrl: string) => balancesOf(databaseUrl, players, allAssets)

/**
 * After a run: prints one line of figures, then asserts that every write got a final answer,
 * none was lost or applied twice, the balances are the opening ones plus the receipts, and the
 * ledger's invariants hold. Time is printed, never asserted.
 */
export const checkRun = async (
  scenario: string,
  databaseUrl: string,
  load: Load,
  opening: ReadonlyMap<string, number>
) => {
  const results = await load.done
  const figures = loadFigures(results, load.startedAt)
  const report = await exactlyOnceReport(databaseUrl, results, opening)
  const duplicated = report.duplicated.reduce((n, d) => n + d.transactionIds.length, 0)
  console.log(
    `[fault] ${scenario}: writes ${figures.writes}, retries ${figures.retries}, lost ${report.lost.length}, ` +
      `duplicated ${duplicated}, unanswered ${figures.unanswered}, replayed ${figures.replayed}, ` +
      `longest without a successful write ${figures.longestGapMs} ms, run ${Date.now() - load.startedAt} ms`
  )
  const unanswered = results.filter((r) => r.final === undefined).map((r) => ({
    key: r.write.idempotencyKey,
    last: r.attempts.at(-1)?.outcome
  }))
  expect(unanswered).toEqual([])
  // A fault is a 503 (safe to retry) or a broken connection, never another 5xx: a 500 says the
  // service took an outage for a bug, and a client that does not retry a 500 would be left unsure.
  const serverErrors = results.flatMap((r) =>
    r.attempts.flatMap((a) =>
      a.outcome._tag === "Answered" && a.outcome.status >= 500 && a.outcome.status !== 503
        ? [{ key: r.write.idempotencyKey, status: a.outcome.status, body: a.outcome.body }]
        : []
    )
  )
  expect(serverErrors).toEqual([])
  expect(report.lost).toEqual([])
  expect(report.duplicated).toEqual([])
  expect(report.unexpected).toEqual([])
  expect(report.balanceMismatches).toEqual([])
  expect(await invariantViolations(databaseUrl)).toEqual(noViolations)
  return { results, figures, report }
}

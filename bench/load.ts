import { checkInvariants } from "./invariants.ts"
import { residentMiB, startService } from "./service.ts"
import { percentile, runWorkload, type WorkloadResult } from "./workload.ts"

/**
 * Load benchmark: starts the service over a fresh database, creates and funds players, runs a
 * hot workload (every write touches the treasury), a single-wallet workload and a read
 * workload, prints throughput, latency percentiles and memory for each, and ends by checking
 * the ledger's invariants. Figures, not pass/fail: only a broken invariant fails the run.
 */

const seconds = Number(process.env.BENCH_SECONDS ?? 10)
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 50)
const maxRequests = Number(process.env.BENCH_MAX_REQUESTS ?? 200_000)
const players = Number(process.env.BENCH_USERS ?? 200)
const assets = ["GOLD_COINS", "DIAMONDS", "LOYALTY_POINTS"] as const

const service = await startService()
const run = Date.now().toString(36)
let applied = 0

const post = (path: string, body: unknown) =>
  fetch(`${service.baseUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })

/** Counts the 201s, to compare with the transactions written. */
const write = async (path: string, body: unknown) => {
  const response = await post(path, body)
  if (response.status === 201) applied++
  return response
}

const report = async (result: WorkloadResult) => {
  const ms = (p: number) => percentile(result.latenciesMs, p).toFixed(2)
  const statuses = [...result.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(" ")
  console.log(
    `${result.name.padEnd(14)} ${String(result.requests).padStart(7)} req  ${(result.requests / result.seconds).toFixed(0).padStart(6)} req/s  ` +
      `p50 ${ms(50)} ms  p90 ${ms(90)} ms  p99 ${ms(99)} ms  max ${ms(100)} ms  [${statuses}]  ` +
      `server RSS ${(await residentMiB(service.pid))?.toFixed(0) ?? "?"} MiB`
  )
}

let failed = false
try {
  console.log(`Dino Wallet load benchmark: ${concurrency} concurrent clients, ${seconds} s per workload, ${players} players`)
  console.log(`database: ${process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL (fresh database)" : "embedded PostgreSQL (temporary)"}\n`)

  const userIds: Array<number> = []
  for (let i = 0; i < players; i++) {
    const created = await post("/api/users", { username: `bench_${run}_${i}` })
    userIds.push(((await created.json()) as { userId: number }).userId)
  }
  for (const [i, userId] of userIds.entries()) {
    for (const asset of assets) {
      await write("/api/wallets/topup", { userId, assetCode: asset, amount: 1_000_000, idempotencyKey: `${run}-fund-${i}-${asset}` })
    }
  }

  const kinds = ["topup", "bonus", "spend", "spend"] as const
  await report(await runWorkload({
    name: "hot",
    concurrency,
    seconds,
    maxRequests,
    request: (n) =>
      write(`/api/wallets/${kinds[n % kinds.length]}`, {
        userId: userIds[n % userIds.length],
        assetCode: assets[n % assets.length],
        amount: 1 + (n % 50),
        idempotencyKey: `${run}-hot-${n}`
      })
  }))

  const single = userIds[0]!
  await report(await runWorkload({
    name: "single-wallet",
    concurrency,
    seconds,
    maxRequests,
    request: (n) =>
      write(`/api/wallets/${n % 2 === 0 ? "spend" : "topup"}`, {
        userId: single,
        assetCode: "GOLD_COINS",
        amount: 1 + (n % 50),
        idempotencyKey: `${run}-single-${n}`
      })
  }))

  await report(await runWorkload({
    name: "read",
    concurrency,
    seconds,
    maxRequests,
    request: (n) => {
      const userId = userIds[n % userIds.length]
      return fetch(n % 2 === 0 ? `${service.baseUrl}/api/wallets/${userId}/balance` : `${service.baseUrl}/api/wallets/${userId}/transactions?limit=20`)
    }
  }))

  const bench = process.memoryUsage()
  console.log(`\nbench process: RSS ${(bench.rss / 2 ** 20).toFixed(0)} MiB, heap ${(bench.heapUsed / 2 ** 20).toFixed(0)} MiB`)
  console.log("\ninvariants:")
  for (const check of await checkInvariants(service.databaseUrl, applied)) {
    console.log(`  ${check.ok ? "OK    " : "FAILED"} ${check.name}`)
    failed ||= !check.ok
  }
} finally {
  await service.stop()
}
process.exit(failed ? 1 : 0)

import { loadAverage } from "./procfs.ts"
import { printComparison, printTargets } from "./report.ts"
import { runVariant, type Settings, type Variant, type VariantResult } from "./variant.ts"

/**
 * Load benchmark: compares two variants of the service in one run, each its own process over a
 * fresh database: A commits one write per database transaction (WRITE_BATCH_MAX=1), B uses the
 * group committer as configured. Each variant runs the hot workload at several concurrencies,
 * single-wallet writes, reads and bulk writes, then has its ledger's invariants checked.
 * Figures, not pass/fail: only a broken invariant fails the run.
 */

const positiveInteger = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be an integer of at least 1, not ${process.env[name]}`)
  return value
}

const positiveIntegers = (name: string, fallback: string) =>
  (process.env[name] ?? fallback).split(",").map((part) => {
    const value = Number(part.trim())
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a comma-separated list of integers of at least 1, not ${process.env[name]}`)
    return value
  })

const settings: Settings = {
  seconds: positiveInteger("BENCH_SECONDS", 5),
  maxRequests: positiveInteger("BENCH_MAX_REQUESTS", 200_000),
  players: positiveInteger("BENCH_USERS", 200),
  hotConcurrencies: positiveIntegers("BENCH_HOT_CONCURRENCY", "1,16,64,256"),
  concurrency: positiveInteger("BENCH_CONCURRENCY", 64),
  bulkItems: positiveInteger("BENCH_BULK_ITEMS", 1_000)
}

const variants: ReadonlyArray<Variant> = [
  { label: "A", description: "one write per transaction (WRITE_BATCH_MAX=1)", env: { WRITE_BATCH_MAX: "1" } },
  {
    label: "B",
    description: `group committer (WRITE_BATCH_MAX=${process.env.WRITE_BATCH_MAX ?? "service default"}, WRITE_QUEUE_MAX=${process.env.WRITE_QUEUE_MAX ?? "service default"})`,
    env: {}
  }
]

// Bun's fetch sends at most BUN_CONFIG_MAX_HTTP_REQUESTS (default 256) requests at once and
// queues the rest inside the client, which would hide the service's latency behind the bench's.
const fetchLimit = Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? 256)
const widest = Math.max(...settings.hotConcurrencies, settings.concurrency)
if (widest > fetchLimit) {
  console.log(`warning: ${widest} clients but Bun's fetch sends at most ${fetchLimit} requests at once; raise BUN_CONFIG_MAX_HTTP_REQUESTS`)
}

console.log(
  `Dino Wallet load benchmark: ${settings.seconds} s per workload, hot at ${settings.hotConcurrencies.join("/")} clients, ` +
    `single-wallet and read at ${settings.concurrency}, bulk at 1 client × ${settings.bulkItems} items, ${settings.players} players`
)
console.log(`database: ${process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL (a fresh database per variant)" : "embedded PostgreSQL (a temporary one per variant)"}`)
for (const variant of variants) console.log(`  ${variant.label}: ${variant.description}`)

let failed = false
const results: Array<VariantResult> = []
for (const variant of variants) {
  console.log(`\n${variant.label}: ${variant.description} (machine load average ${await loadAverage()})`)
  const result = await runVariant(variant, settings)
  results.push(result)
  console.log(`${variant.label} invariants:`)
  for (const check of result.invariants) {
    console.log(`  ${check.ok ? "OK    " : "FAILED"} ${check.name}`)
    failed ||= !check.ok
  }
}

const bench = process.memoryUsage()
console.log(`\nbench process: RSS ${(bench.rss / 2 ** 20).toFixed(0)} MiB, heap ${(bench.heapUsed / 2 ** 20).toFixed(0)} MiB`)
const [a, b] = results
if (a !== undefined && b !== undefined) {
  console.log(`\n${a.variant.label}: ${a.variant.description}\n${b.variant.label}: ${b.variant.description}\n`)
  printComparison(a, b)
  console.log("\nissue 6 targets (figures, not pass/fail):")
  printTargets(a, b)
}
console.log(`\ninvariants: ${failed ? "FAILED (see above)" : "all held in both variants"}`)
process.exit(failed ? 1 : 0)

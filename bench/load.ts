import { checkOutBaseline, type Baseline } from "./baseline.ts"
import { checkInvariants } from "./invariants.ts"
import { measureWorkload, type Measurement } from "./measure.ts"
import { loadAverage } from "./procfs.ts"
import { printComparison, printCommitterTargets, printCostTargets, reportMeasurement, type VariantRounds } from "./report.ts"
import { prepareVariant, type PreparedVariant, type Settings, type Variant, type WorkloadKind, type WorkloadName } from "./variant.ts"

/**
 * Load benchmark: compares two variants of the service in one run, each its own process over a
 * fresh database. By default A commits one write per database transaction (WRITE_BATCH_MAX=1)
 * and B uses the group committer as configured; with BENCH_BASELINE=<revision>, A is that
 * revision of the service and B this checkout, both as configured. Both services run at once,
 * and every workload is measured in A and B back to back, BENCH_ROUNDS times, alternating
 * which goes first: on a shared machine whose figures move by a third between runs, only such
 * paired figures compare. Figures, not pass/fail: only a broken invariant fails the run.
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

const kinds: ReadonlyArray<WorkloadKind> = ["reads", "writes", "bulk", "floor"]

/**
 * BENCH_ONLY: comma-separated kinds (reads, writes, bulk, floor), workload names (hot@64) or names
 * before the @ (hot, balance); unset runs everything.
 */
const selection = (text: string | undefined) => {
  if (text === undefined || text.trim() === "") return () => true
  const wanted = new Set(text.split(",").map((part) => part.trim()).filter((part) => part !== ""))
  for (const part of wanted) {
    if (!kinds.includes(part as WorkloadKind) && !/^[a-z-]+(@\d+)?$/.test(part)) {
      throw new Error(`BENCH_ONLY must list kinds (${kinds.join(", ")}) or workload names, not ${part}`)
    }
  }
  return (workload: WorkloadName) =>
    wanted.has(workload.kind) || wanted.has(workload.name) || wanted.has(workload.name.split("@")[0]!)
}

const settings: Settings = {
  seconds: positiveInteger("BENCH_SECONDS", 5),
  maxRequests: positiveInteger("BENCH_MAX_REQUESTS", 200_000),
  players: positiveInteger("BENCH_USERS", 200),
  hotConcurrencies: positiveIntegers("BENCH_HOT_CONCURRENCY", "1,16,64,256"),
  concurrency: positiveInteger("BENCH_CONCURRENCY", 64),
  bulkItems: positiveInteger("BENCH_BULK_ITEMS", 1_000),
  rounds: positiveInteger("BENCH_ROUNDS", 1),
  selected: selection(process.env.BENCH_ONLY)
}

/**
 * BENCH_ENV_A / BENCH_ENV_B: `NAME=value,NAME=value` added to one variant's environment only,
 * to compare settings (DATABASE_POOL_SIZE=4 against the default, say) with the same code.
 */
const environment = (name: string): Record<string, string> => {
  const text = process.env[name]?.trim()
  if (text === undefined || text === "") return {}
  return Object.fromEntries(text.split(",").map((pair) => {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(pair.trim())
    if (match === null) throw new Error(`${name} must be NAME=value pairs separated by commas, not ${pair}`)
    return [match[1]!, match[2]!]
  }))
}
const [envA, envB] = [environment("BENCH_ENV_A"), environment("BENCH_ENV_B")]
const withEnv = (extra: Record<string, string>) => Object.keys(extra).length === 0 ? "" : `, ${Object.entries(extra).map(([k, v]) => `${k}=${v}`).join(", ")}`

const baselineRevision = process.env.BENCH_BASELINE?.trim() || undefined
const baseline: Baseline | undefined = baselineRevision === undefined ? undefined : await checkOutBaseline(baselineRevision)

const committerDescription =
  `WRITE_BATCH_MAX=${process.env.WRITE_BATCH_MAX ?? "service default"}, WRITE_QUEUE_MAX=${process.env.WRITE_QUEUE_MAX ?? "service default"}`
const variants: ReadonlyArray<Variant> = baseline === undefined
  ? [
    { label: "A", description: `one write per transaction (WRITE_BATCH_MAX=1${withEnv(envA)})`, env: { WRITE_BATCH_MAX: "1", ...envA } },
    { label: "B", description: `group committer (${committerDescription}${withEnv(envB)})`, env: envB }
  ]
  : [
    {
      label: "A",
      description: `baseline ${baseline.revision} (${baseline.commit}) (${committerDescription}${withEnv(envA)})`,
      env: envA,
      checkout: baseline.checkout
    },
    { label: "B", description: `this checkout (${committerDescription}${withEnv(envB)})`, env: envB }
  ]

// Bun's fetch sends at most BUN_CONFIG_MAX_HTTP_REQUESTS (default 256) requests at once and
// queues the rest inside the client, which would hide the service's latency behind the bench's.
const fetchLimit = Number(process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? 256)
const widest = Math.max(...settings.hotConcurrencies, settings.concurrency)
if (widest > fetchLimit) {
  console.log(`warning: ${widest} clients but Bun's fetch sends at most ${fetchLimit} requests at once; raise BUN_CONFIG_MAX_HTTP_REQUESTS`)
}

console.log(
  `Dino Wallet load benchmark: ${settings.seconds} s per workload × ${settings.rounds} round(s), hot at ${settings.hotConcurrencies.join("/")} clients, ` +
    `single-wallet and read at ${settings.concurrency}, bulk at 1 client × ${settings.bulkItems} items, ${settings.players} players` +
    (process.env.BENCH_ONLY ? `; only ${process.env.BENCH_ONLY}` : "")
)
console.log(`database: ${process.env.BENCH_DATABASE_URL ? "BENCH_DATABASE_URL (a fresh database per variant)" : "embedded PostgreSQL (a temporary one per variant)"}`)
for (const variant of variants) console.log(`  ${variant.label}: ${variant.description}`)

let failed = false
const prepared: Array<PreparedVariant> = []
const rounds = variants.map((variant) => ({ variant, measurements: new Map<string, Array<Measurement>>() }))
try {
  for (const variant of variants) prepared.push(await prepareVariant(variant, settings))
  const workloadNames = prepared[0]!.workloads.map((workload) => workload.name)
  for (let round = 1; round <= settings.rounds; round++) {
    console.log(`\nround ${round} of ${settings.rounds} (machine load average ${await loadAverage()})`)
    for (const name of workloadNames) {
      // Alternate which variant goes first, so neither always runs on the heels of the other.
      const order = round % 2 === 1 ? prepared.map((_, i) => i) : prepared.map((_, i) => prepared.length - 1 - i)
      for (const i of order) {
        const { service, variant, workloads, addApplied } = prepared[i]!
        const workload = workloads.find((w) => w.name === name)!
        const measurement = await measureWorkload(service, {
          name,
          concurrency: workload.concurrency,
          seconds: settings.seconds,
          maxRequests: settings.maxRequests,
          request: workload.request
        })
        addApplied(measurement.applied)
        reportMeasurement(`${variant.label}${settings.rounds > 1 ? ` r${round}` : ""}`, measurement)
        const byName = rounds[i]!.measurements
        byName.set(name, [...(byName.get(name) ?? []), measurement])
      }
    }
  }
  for (const { variant, service, applied } of prepared) {
    console.log(`${variant.label} invariants:`)
    for (const check of await checkInvariants(service.databaseUrl, applied())) {
      console.log(`  ${check.ok ? "OK    " : "FAILED"} ${check.name}`)
      failed ||= !check.ok
    }
  }
} finally {
  for (const { service } of prepared) await service.stop()
  await baseline?.remove()
}

const bench = process.memoryUsage()
console.log(`\nbench process: RSS ${(bench.rss / 2 ** 20).toFixed(0)} MiB, heap ${(bench.heapUsed / 2 ** 20).toFixed(0)} MiB`)
const [a, b] = rounds.map((r, i): VariantRounds => ({ ...r, bulkItems: prepared[i]!.bulkItems }))
if (a !== undefined && b !== undefined) {
  console.log(`\n${a.variant.label}: ${a.variant.description}\n${b.variant.label}: ${b.variant.description}\n`)
  printComparison(a, b)
  if (baseline === undefined) {
    console.log("\nissue 6 targets (figures, not pass/fail):")
    printCommitterTargets(a, b)
  } else {
    console.log("\nissue 9 targets (figures, not pass/fail):")
    printCostTargets(a, b, settings.concurrency)
  }
}
console.log(`\ninvariants: ${failed ? "FAILED (see above)" : "all held in both variants"}`)
process.exit(failed ? 1 : 0)

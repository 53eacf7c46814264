import type { Measurement } from "./measure.ts"
import type { Variant } from "./variant.ts"
import { percentile } from "./workload.ts"

/**
 * What the bench prints: one block per measurement as it finishes, then one table comparing the
 * first two variants (medians over the rounds, with their spread), then the figures the issues
 * set targets for. Figures, not verdicts: nothing here fails the run.
 */

/** A variant's measurements by workload, one per round, in the order they ran. */
export interface VariantRounds {
  readonly variant: Variant
  readonly bulkItems: number
  readonly measurements: ReadonlyMap<string, ReadonlyArray<Measurement>>
}

const fixed = (value: number | undefined, digits: number) =>
  value === undefined || !Number.isFinite(value) ? "?" : value.toFixed(digits)

const perSecond = (m: Measurement, count: number) => count / m.seconds
/** A rate with a decimal below 10, so a slow bulk variant does not print as 0 req/s. */
const rate = (value: number | undefined) => fixed(value, value !== undefined && value < 10 ? 1 : 0)
const requestsPerSecond = (m: Measurement) => perSecond(m, m.requests)
/** Service process CPU per request, in µs: the figure issue 9 is about. */
const cpuPerRequestUs = (m: Measurement) => m.serviceCpuMs === undefined ? undefined : (m.serviceCpuMs * 1000) / m.requests
const dbPerRequestUs = (m: Measurement) => m.databaseCpuMs === undefined ? undefined : (m.databaseCpuMs * 1000) / m.requests
/** Busy CPU of the machine that is neither the service, its database backends nor the bench. */
const restCpuMs = (m: Measurement) =>
  m.machineCpuMs === undefined || m.serviceCpuMs === undefined || m.databaseCpuMs === undefined
    ? undefined
    : m.machineCpuMs - m.serviceCpuMs - m.databaseCpuMs - m.benchCpuMs
const isBulk = (name: string) => name.startsWith("bulk")

export const reportMeasurement = (label: string, m: Measurement) => {
  const ms = (p: number) => fixed(percentile(m.latenciesMs, p), 2)
  const statuses = [...m.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(" ")
  const perRequest = (cpuMs: number | undefined) => `${fixed(cpuMs === undefined ? undefined : (cpuMs * 1000) / m.requests, 0)} µs`
  const postings = isBulk(m.name) ? `  ${m.applied} postings applied, ${fixed(perSecond(m, m.applied), 0)} postings/s` : ""
  const batches = m.batches.transactions === 0
    ? "no writes committed"
    : `${m.batches.transactions} write transactions of ${fixed(m.batches.commands / m.batches.transactions, 1)} writes on average, ${m.batches.retries} retried`
  console.log(
    `${label} ${m.name.padEnd(17)} ${String(m.requests).padStart(7)} req ${rate(requestsPerSecond(m)).padStart(7)} req/s  ` +
      `p50 ${ms(50)}  p90 ${ms(90)}  p99 ${ms(99)}  max ${ms(100)} ms  [${statuses}]${postings}`
  )
  console.log(
    `    CPU per request: service ${perRequest(m.serviceCpuMs)}, database backends ${perRequest(m.databaseCpuMs)}, load generator ${perRequest(m.benchCpuMs)} ` +
      `(${fixed((m.benchCpuMs / (m.seconds * 1000)) * 100, 0)}% of a core), everything else ${perRequest(restCpuMs(m))}; ` +
      `service peak RSS ${fixed(m.peakRssMiB, 0)} MiB${m.peakOfWorkloadOnly ? "" : " (since start)"}; ${batches}`
  )
}

const median = (values: ReadonlyArray<number>) => {
  const sorted = values.filter(Number.isFinite).sort((x, y) => x - y)
  if (sorted.length === 0) return undefined
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The median of a figure over the rounds, and its range when there was more than one round. */
const spread = (values: ReadonlyArray<number | undefined>, digits: number) => {
  const known = values.filter((v): v is number => v !== undefined && Number.isFinite(v))
  const middle = median(known)
  if (middle === undefined) return "?"
  if (known.length < 2) return fixed(middle, digits)
  return `${fixed(middle, digits)} (${fixed(Math.min(...known), digits)}–${fixed(Math.max(...known), digits)})`
}

const row = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>) =>
  cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")

/**
 * Round by round ratios of B's figure to A's: the two ran back to back, so a ratio cancels most
 * of what the machine's other load did to both.
 */
const pairedRatios = (as: ReadonlyArray<Measurement>, bs: ReadonlyArray<Measurement>, figure: (m: Measurement) => number | undefined) =>
  as.map((ma, i) => {
    const mb = bs[i]
    const x = figure(ma)
    const y = mb === undefined ? undefined : figure(mb)
    return x === undefined || y === undefined || x === 0 ? undefined : y / x
  })

/** The comparison of the first two variants, workload by workload. */
export const printComparison = (a: VariantRounds, b: VariantRounds) => {
  const widths = [18, 20, 20, 18, 6, 6, 7, 7, 18, 18, 18, 7, 7, 5, 5]
  const [la, lb] = [a.variant.label, b.variant.label]
  console.log(row([
    "workload", `req/s ${la}`, `req/s ${lb}`, `req/s ${lb}/${la}`, `p50 ${la}`, `p50 ${lb}`, `p99 ${la}`, `p99 ${lb}`,
    `cpu µs ${la}`, `cpu µs ${lb}`, `cpu ${lb}/${la}`, `db µs ${la}`, `db µs ${lb}`, `rss ${la}`, `rss ${lb}`
  ], widths))
  for (const [name, as] of a.measurements) {
    const bs = b.measurements.get(name) ?? []
    const of = (ms: ReadonlyArray<Measurement>, figure: (m: Measurement) => number | undefined) => ms.map(figure)
    const p = (q: number) => (m: Measurement) => percentile(m.latenciesMs, q)
    const rss = (m: Measurement) => m.peakRssMiB
    const label = isBulk(name) ? `${name} ×${a.bulkItems}/${b.bulkItems}` : name
    console.log(row([
      label,
      spread(of(as, requestsPerSecond), 0),
      spread(of(bs, requestsPerSecond), 0),
      spread(pairedRatios(as, bs, requestsPerSecond), 2),
      fixed(median(as.map(p(50))), 1),
      fixed(median(bs.map(p(50))), 1),
      fixed(median(as.map(p(99))), 1),
      fixed(median(bs.map(p(99))), 1),
      spread(of(as, cpuPerRequestUs), 0),
      spread(of(bs, cpuPerRequestUs), 0),
      spread(pairedRatios(as, bs, cpuPerRequestUs), 2),
      fixed(median(of(as, dbPerRequestUs).filter((v): v is number => v !== undefined)), 0),
      fixed(median(of(bs, dbPerRequestUs).filter((v): v is number => v !== undefined)), 0),
      fixed(Math.max(...of(as, rss).filter((v): v is number => v !== undefined)), 0),
      fixed(Math.max(...of(bs, rss).filter((v): v is number => v !== undefined)), 0)
    ], widths))
    if (isBulk(name)) {
      const postings = (m: Measurement) => perSecond(m, m.applied)
      const perPosting = (m: Measurement) => m.serviceCpuMs === undefined || m.applied === 0 ? undefined : (m.serviceCpuMs * 1000) / m.applied
      console.log(row([
        "  postings/s", spread(of(as, postings), 0), spread(of(bs, postings), 0), spread(pairedRatios(as, bs, postings), 2),
        "", "", "", "", spread(of(as, perPosting), 0), spread(of(bs, perPosting), 0), "", "", "", "", ""
      ], widths))
    }
  }
  const rounds = Math.max(...[...a.measurements.values()].map((ms) => ms.length))
  console.log(
    `req/s: answers per second; p50/p99: latency in ms; cpu µs: service process CPU per request (per posting on the postings/s row); ` +
      `db µs: CPU of its database backends per request; rss: service peak RSS in MiB. ` +
      (rounds > 1
        ? `Median of ${rounds} rounds (min–max); ${lb}/${la} is the median of the round-by-round ratios, each round running ${la} and ${lb} back to back.`
        : `One round: run BENCH_ROUNDS=3 or more to see the spread.`)
  )
}

const medianOf = (result: VariantRounds, name: string, figure: (m: Measurement) => number | undefined) =>
  median((result.measurements.get(name) ?? []).map(figure).filter((v): v is number => v !== undefined))

/** Issue 6's targets for the committer (B) against one write per transaction (A), as figures. */
export const printCommitterTargets = (a: VariantRounds, b: VariantRounds) => {
  const lines: Array<string> = []
  const [la, lb] = [a.variant.label, b.variant.label]
  const hotA = medianOf(a, "hot@64", requestsPerSecond)
  const hotB = medianOf(b, "hot@64", requestsPerSecond)
  if (hotA !== undefined && hotB !== undefined) {
    lines.push(`hot@64 req/s ${lb}/${la} = ${fixed(hotB / hotA, 1)}× (target ≥ 10×)`)
    lines.push(`hot@64 p99 ${lb} = ${fixed(medianOf(b, "hot@64", (m) => percentile(m.latenciesMs, 99)), 1)} ms (target < 50 ms)`)
  }
  const oneA = medianOf(a, "hot@1", (m) => percentile(m.latenciesMs, 50))
  const oneB = medianOf(b, "hot@1", (m) => percentile(m.latenciesMs, 50))
  if (oneA !== undefined && oneB !== undefined) {
    lines.push(`hot@1 p50 ${la} ${fixed(oneA, 2)} ms, ${lb} ${fixed(oneB, 2)} ms (target: ${lb} no worse)`)
  }
  const bulkB = medianOf(b, "bulk@1", (m) => perSecond(m, m.applied))
  if (bulkB !== undefined) {
    lines.push(`bulk postings/s ${lb} = ${fixed(bulkB, 0)} with ${b.bulkItems} items per request (target ≥ 50,000 with 1,000)`)
  }
  const rssB = medianOf(b, "hot@256", (m) => m.peakRssMiB)
  if (rssB !== undefined) {
    lines.push(`hot@256 service peak RSS ${lb} = ${fixed(rssB, 0)} MiB = ${fixed((rssB * 2 ** 20) / 1e6, 0)} MB (target < 200 MB)`)
  }
  for (const line of lines) console.log(`  ${line}`)
}

/** Issue 9's targets for this checkout (B) against a baseline revision (A), as figures. */
export const printCostTargets = (a: VariantRounds, b: VariantRounds, concurrency: number) => {
  const [la, lb] = [a.variant.label, b.variant.label]
  const lines: Array<string> = []
  for (const name of [`read@${concurrency}`, `balance@${concurrency}`, `history@${concurrency}`, "hot@64"]) {
    const as = a.measurements.get(name)
    const bs = b.measurements.get(name)
    if (as === undefined || bs === undefined) continue
    const speed = median(pairedRatios(as, bs, requestsPerSecond).filter((v): v is number => v !== undefined))
    const cpu = median(pairedRatios(as, bs, cpuPerRequestUs).filter((v): v is number => v !== undefined))
    const target = name.startsWith("read") ? " (targets: req/s ≥ 2×, CPU ≤ 0.5×)" : ""
    lines.push(`${name}: req/s ${lb}/${la} = ${fixed(speed, 2)}×, service CPU per request ${lb}/${la} = ${fixed(cpu, 2)}×${target}`)
  }
  for (const line of lines) console.log(`  ${line}`)
}

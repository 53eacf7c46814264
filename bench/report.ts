import type { Measurement } from "./measure.ts"
import type { VariantResult } from "./variant.ts"
import { percentile } from "./workload.ts"

/**
 * What the bench prints: one block per workload as it finishes, then one table comparing the
 * variants, then the figures issue 6 set targets for. Figures, not verdicts: nothing here
 * fails the run.
 */

const fixed = (value: number | undefined, digits: number) =>
  value === undefined || !Number.isFinite(value) ? "?" : value.toFixed(digits)

const perSecond = (m: Measurement, count: number) => count / m.seconds
/** A rate with a decimal below 10, so a slow bulk variant does not print as 0 req/s. */
const rate = (value: number | undefined) => fixed(value, value !== undefined && value < 10 ? 1 : 0)
const cpuPerRequestMs = (m: Measurement) => m.serviceCpuMs === undefined ? undefined : m.serviceCpuMs / m.requests
/** Busy CPU of the machine that is neither the service, its database backends nor the bench. */
const restCpuMs = (m: Measurement) =>
  m.machineCpuMs === undefined || m.serviceCpuMs === undefined || m.databaseCpuMs === undefined
    ? undefined
    : m.machineCpuMs - m.serviceCpuMs - m.databaseCpuMs - m.benchCpuMs
const isBulk = (m: Measurement) => m.name.startsWith("bulk")

export const reportMeasurement = (label: string, m: Measurement) => {
  const ms = (p: number) => fixed(percentile(m.latenciesMs, p), 2)
  const statuses = [...m.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${status}×${n}`).join(" ")
  const perRequest = (cpuMs: number | undefined) => `${fixed(cpuMs === undefined ? undefined : cpuMs / m.requests, 3)} ms`
  const postings = isBulk(m) ? `  ${m.applied} postings applied, ${fixed(perSecond(m, m.applied), 0)} postings/s` : ""
  const batches = m.batches.transactions === 0
    ? "no writes committed"
    : `${m.batches.transactions} write transactions of ${fixed(m.batches.commands / m.batches.transactions, 1)} writes on average, ${m.batches.retries} retried`
  console.log(
    `${label} ${m.name.padEnd(17)} ${String(m.requests).padStart(7)} req ${rate(perSecond(m, m.requests)).padStart(7)} req/s  ` +
      `p50 ${ms(50)}  p90 ${ms(90)}  p99 ${ms(99)}  max ${ms(100)} ms  [${statuses}]${postings}`
  )
  console.log(
    `    CPU per request: service ${perRequest(m.serviceCpuMs)}, database backends ${perRequest(m.databaseCpuMs)}, load generator ${perRequest(m.benchCpuMs)} ` +
      `(${fixed((m.benchCpuMs / (m.seconds * 1000)) * 100, 0)}% of a core), everything else ${perRequest(restCpuMs(m))}; ` +
      `service peak RSS ${fixed(m.peakRssMiB, 0)} MiB${m.peakOfWorkloadOnly ? "" : " (since start)"}; ${batches}`
  )
}

const row = (cells: ReadonlyArray<string>, widths: ReadonlyArray<number>) =>
  cells.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")

/** The comparison of the first two variants (A and B), workload by workload. */
export const printComparison = (a: VariantResult, b: VariantResult) => {
  const widths = [22, 9, 9, 7, 8, 8, 8, 8, 8, 8, 8, 8, 6, 6]
  const [la, lb] = [a.variant.label, b.variant.label]
  console.log(row(["workload", `req/s ${la}`, `req/s ${lb}`, `${lb}/${la}`, `p50 ${la}`, `p50 ${lb}`, `p99 ${la}`, `p99 ${lb}`, `cpu ${la}`, `cpu ${lb}`, `db ${la}`, `db ${lb}`, `rss ${la}`, `rss ${lb}`], widths))
  const find = (result: VariantResult, name: string) => result.measurements.find((m) => m.name === name)
  for (const ma of a.measurements) {
    const mb = find(b, ma.name)
    const requests = (m: Measurement | undefined) => m === undefined ? undefined : perSecond(m, m.requests)
    const ms = (m: Measurement | undefined, p: number) => fixed(m === undefined ? undefined : percentile(m.latenciesMs, p), 1)
    const cpu = (m: Measurement | undefined) => fixed(m === undefined ? undefined : cpuPerRequestMs(m), 3)
    const db = (m: Measurement | undefined) => fixed(m?.databaseCpuMs === undefined ? undefined : m.databaseCpuMs / m.requests, 3)
    const rss = (m: Measurement | undefined) => fixed(m?.peakRssMiB, 0)
    const name = isBulk(ma) ? `${ma.name} ×${a.bulkItems}/${b.bulkItems}` : ma.name
    const ratio = (x: number | undefined, y: number | undefined) => fixed(x === undefined || y === undefined ? undefined : y / x, 2)
    console.log(row([name, rate(requests(ma)), rate(requests(mb)), ratio(requests(ma), requests(mb)), ms(ma, 50), ms(mb, 50), ms(ma, 99), ms(mb, 99), cpu(ma), cpu(mb), db(ma), db(mb), rss(ma), rss(mb)], widths))
    if (isBulk(ma)) {
      const postings = (m: Measurement | undefined) => m === undefined ? undefined : perSecond(m, m.applied)
      const perPosting = (m: Measurement | undefined, cpuMs: (m: Measurement) => number | undefined) => {
        const spent = m === undefined ? undefined : cpuMs(m)
        return fixed(spent === undefined || m === undefined || m.applied === 0 ? undefined : spent / m.applied, 3)
      }
      const service = (m: Measurement) => m.serviceCpuMs
      const database = (m: Measurement) => m.databaseCpuMs
      console.log(row(["  postings/s", rate(postings(ma)), rate(postings(mb)), ratio(postings(ma), postings(mb)), "", "", "", "", perPosting(ma, service), perPosting(mb, service), perPosting(ma, database), perPosting(mb, database), "", ""], widths))
    }
  }
  console.log("req/s: answers per second; p50/p99: latency in ms; cpu/db: CPU ms per request (per posting on the postings/s row) of the service process / of its database backends; rss: service peak RSS in MiB during the workload")
}

/** Issue 6's targets for the committer (B) against one write per transaction (A), as figures. */
export const printTargets = (a: VariantResult, b: VariantResult) => {
  const find = (result: VariantResult, name: string) => result.measurements.find((m) => m.name === name)
  const lines: Array<string> = []
  const [hotA, hotB] = [find(a, "hot@64"), find(b, "hot@64")]
  if (hotA !== undefined && hotB !== undefined) {
    const ratio = perSecond(hotB, hotB.requests) / perSecond(hotA, hotA.requests)
    lines.push(`hot@64 req/s ${b.variant.label}/${a.variant.label} = ${fixed(ratio, 1)}× (target ≥ 10×)`)
    lines.push(`hot@64 p99 ${b.variant.label} = ${fixed(percentile(hotB.latenciesMs, 99), 1)} ms (target < 50 ms)`)
  }
  const [oneA, oneB] = [find(a, "hot@1"), find(b, "hot@1")]
  if (oneA !== undefined && oneB !== undefined) {
    lines.push(`hot@1 p50 ${a.variant.label} ${fixed(percentile(oneA.latenciesMs, 50), 2)} ms, ${b.variant.label} ${fixed(percentile(oneB.latenciesMs, 50), 2)} ms (target: ${b.variant.label} no worse)`)
  }
  const bulkB = find(b, "bulk@1")
  if (bulkB !== undefined) {
    lines.push(`bulk postings/s ${b.variant.label} = ${fixed(perSecond(bulkB, bulkB.applied), 0)} with ${b.bulkItems} items per request (target ≥ 50,000 with 1,000)`)
  }
  const hot256B = find(b, "hot@256")
  if (hot256B?.peakRssMiB !== undefined) {
    lines.push(`hot@256 service peak RSS ${b.variant.label} = ${fixed(hot256B.peakRssMiB, 0)} MiB = ${fixed((hot256B.peakRssMiB * 2 ** 20) / 1e6, 0)} MB (target < 200 MB)`)
  }
  for (const line of lines) console.log(`  ${line}`)
}

import { backendCpu, backendCpuSpentMs } from "./backends.ts"
import { machineBusyCpuMs, peakResidentMiB, resetPeakResident, serviceCpuMs } from "./procfs.ts"
import type { BenchService } from "./service.ts"
import { runWorkload, type Answer, type WorkloadResult } from "./workload.ts"

/**
 * A workload run with what it cost: the CPU of the service process, of its database's
 * backends, of the load generator and of the whole machine over the workload, the service's peak memory, and the group
 * committer's batches, read from the service's own metrics.
 */
export interface Measurement extends WorkloadResult {
  readonly serviceCpuMs: number | undefined
  /** CPU of this bench process, the load generator, which shares the machine with the service. */
  readonly benchCpuMs: number
  /** CPU of the PostgreSQL backends of the service's database (its pool's connections). */
  readonly databaseCpuMs: number | undefined
  /** Busy CPU of every core: the service, the bench, PostgreSQL and anything else running. */
  readonly machineCpuMs: number | undefined
  readonly peakRssMiB: number | undefined
  /** False where VmHWM could not be reset: the peak then covers the service's whole life so far. */
  readonly peakOfWorkloadOnly: boolean
  readonly batches: WriteBatches
}

/** Database transactions the group committer committed, and the commands in them. */
export interface WriteBatches {
  readonly transactions: number
  readonly commands: number
  readonly retries: number
}

/** A Prometheus metric's value in a scrape, summed over its label sets. */
export const metricSum = (text: string, name: string) =>
  text.split("\n").reduce((sum, line) => {
    const match = /^(\S+?)(?:\{[^}]*\})? (\S+)$/.exec(line)
    return match?.[1] === name ? sum + Number(match[2]) : sum
  }, 0)

const writeBatches = async (service: BenchService): Promise<WriteBatches> => {
  const text = await fetch(`${service.baseUrl}/api/metrics`, { headers: { authorization: `Bearer ${service.apiKey}` } })
    .then((r) => r.text(), () => "")
  return {
    transactions: metricSum(text, "wallet_write_batch_size_count"),
    commands: metricSum(text, "wallet_write_batch_size_sum"),
    retries: metricSum(text, "wallet_transaction_retries_total")
  }
}

const difference = (after: number | undefined, before: number | undefined) =>
  after === undefined || before === undefined ? undefined : after - before

export const measureWorkload = async (
  service: BenchService,
  options: {
    readonly name: string
    readonly concurrency: number
    readonly seconds: number
    readonly maxRequests: number
    readonly request: (n: number) => Promise<Answer>
  }
): Promise<Measurement> => {
  const peakOfWorkloadOnly = await resetPeakResident(service.pid)
  const batchesBefore = await writeBatches(service)
  const databaseBefore = await backendCpu(service.databaseUrl)
  const serviceBefore = await serviceCpuMs(service.pid)
  const machineBefore = await machineBusyCpuMs()
  const benchBefore = process.cpuUsage()
  const result = await runWorkload(options)
  const bench = process.cpuUsage(benchBefore)
  const machineAfter = await machineBusyCpuMs()
  const serviceAfter = await serviceCpuMs(service.pid)
  const databaseAfter = await backendCpu(service.databaseUrl)
  const peakRssMiB = await peakResidentMiB(service.pid)
  const batchesAfter = await writeBatches(service)
  return {
    ...result,
    serviceCpuMs: difference(serviceAfter, serviceBefore),
    databaseCpuMs: backendCpuSpentMs(databaseBefore, databaseAfter),
    benchCpuMs: (bench.user + bench.system) / 1000,
    machineCpuMs: difference(machineAfter, machineBefore),
    peakRssMiB,
    peakOfWorkloadOnly,
    batches: {
      transactions: batchesAfter.transactions - batchesBefore.transactions,
      commands: batchesAfter.commands - batchesBefore.commands,
      retries: batchesAfter.retries - batchesBefore.retries
    }
  }
}

/**
 * A closed-loop load: `concurrency` workers each send a request, wait for its answer, and send
 * the next, until the duration or the request budget runs out. Latency is measured per request
 * from send to fully read body.
 */
export interface WorkloadResult {
  readonly name: string
  readonly requests: number
  readonly seconds: number
  readonly latenciesMs: Float64Array
  readonly statuses: ReadonlyMap<number, number>
}

export const runWorkload = async (options: {
  readonly name: string
  readonly concurrency: number
  readonly seconds: number
  readonly maxRequests: number
  /** The n-th request of the run. */
  readonly request: (n: number) => Promise<Response>
}): Promise<WorkloadResult> => {
  const latencies = new Float64Array(options.maxRequests)
  const statuses = new Map<number, number>()
  let issued = 0
  let completed = 0
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  const worker = async () => {
    while (issued < options.maxRequests && performance.now() < deadline) {
      const n = issued++
      const sent = performance.now()
      const status = await options.request(n).then(
        async (response) => {
          await response.arrayBuffer()
          return response.status
        },
        () => 0 // a connection error, counted as status 0
      )
      latencies[completed++] = performance.now() - sent
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return {
    name: options.name,
    requests: completed,
    seconds: (performance.now() - started) / 1000,
    latenciesMs: latencies.slice(0, completed).sort(),
    statuses
  }
}

export const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

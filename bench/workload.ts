/**
 * A closed-loop load: `concurrency` workers each send a request, wait for its answer, and send
 * the next, until the duration or the request budget runs out. Latency is measured per request
 * from send to fully read body.
 */

/** What one request ended with: its HTTP status (0: no answer) and the writes it applied. */
export interface Answer {
  readonly status: number
  /** Writes applied by this request: 1 for a fresh 201, the 201 items of a bulk request, else 0. */
  readonly applied: number
}

export interface WorkloadResult {
  readonly name: string
  readonly concurrency: number
  readonly requests: number
  readonly applied: number
  readonly seconds: number
  readonly latenciesMs: Float64Array
  readonly statuses: ReadonlyMap<number, number>
}

/** A connection error or a broken body: the request has no answer, counted as status 0. */
const noAnswer: Answer = { status: 0, applied: 0 }

export const runWorkload = async (options: {
  readonly name: string
  readonly concurrency: number
  readonly seconds: number
  readonly maxRequests: number
  /** Sends the n-th request of the run and reads its whole body. */
  readonly request: (n: number) => Promise<Answer>
}): Promise<WorkloadResult> => {
  const latencies = new Float64Array(options.maxRequests)
  const statuses = new Map<number, number>()
  let issued = 0
  let completed = 0
  let applied = 0
  const started = performance.now()
  const deadline = started + options.seconds * 1000
  const worker = async () => {
    while (issued < options.maxRequests && performance.now() < deadline) {
      const n = issued++
      const sent = performance.now()
      const answer = await options.request(n).catch(() => noAnswer)
      latencies[completed++] = performance.now() - sent
      applied += answer.applied
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker))
  return {
    name: options.name,
    concurrency: options.concurrency,
    requests: completed,
    applied,
    seconds: (performance.now() - started) / 1000,
    latenciesMs: latencies.slice(0, completed).sort(),
    statuses
  }
}

export const percentile = (sorted: Float64Array, p: number) =>
  sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!

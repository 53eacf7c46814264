import { type HttpOutcome, postWrite, type Write } from "./ServiceProcess.ts"

/**
 * Clients as a careful game server writes them: each write is sent with its idempotency key
 * until it gets a final answer, and a retry always carries the SAME key and body. A 2xx or 4xx
 * is final; a 503, any other 5xx, a refused or reset connection and a timeout are retried
 * after a short backoff, for at most `keyDeadlineMs` per write, so a service that never
 * recovers fails the test instead of hanging it.
 */

/** One try of one write: against which service, what came back, and when. */
export interface Attempt {
  readonly baseUrl: string
  readonly outcome: HttpOutcome
  readonly startedAt: number
  readonly endedAt: number
}

/** A write with every try it took; `final` is the answer that ended it, if one came in time. */
export interface WriteResult {
  readonly write: Write
  readonly attempts: ReadonlyArray<Attempt>
  readonly final: (HttpOutcome & { readonly _tag: "Answered" }) | undefined
  readonly finalAt: number | undefined
}

export interface LoadOptions {
  readonly writes: ReadonlyArray<Write>
  /** Writes in flight at once; each client sends its next write only after the last one's final answer. */
  readonly clients: number
  /**
   * The services a client may use, read again before every try, so that clients follow a
   * replacement process. Client `i` starts at `targets()[i % n]` and moves to the next one
   * after each failed try (fail-over).
   */
  readonly targets: () => ReadonlyArray<string>
  readonly keyDeadlineMs?: number
  readonly attemptTimeoutMs?: number
}

export interface Load {
  /** Resolves once `count` writes have their final answer (or gave up). */
  readonly reached: (count: number) => Promise<void>
  readonly done: Promise<ReadonlyArray<WriteResult>>
  readonly startedAt: number
}

export const isFinal = (outcome: HttpOutcome): outcome is HttpOutcome & { readonly _tag: "Answered" } =>
  outcome._tag === "Answered" && outcome.status >= 200 && outcome.status < 500

/** 20, 40, 80, 160, 250 ms, each with up to half again of jitter, so retries do not march in step. */
const backoffMs = (failures: number) => {
  const base = Math.min(250, 20 * 2 ** Math.min(failures - 1, 4))
  return base + Math.floor(Math.random() * base / 2)
}

export const startLoad = (options: LoadOptions): Load => {
  const keyDeadlineMs = options.keyDeadlineMs ?? 60_000
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 15_000
  const startedAt = Date.now()
  const results: Array<WriteResult | undefined> = new Array(options.writes.length)
  let nextWrite = 0
  let finished = 0
  const waiters: Array<{ readonly count: number; readonly resolve: () => void }> = []
  const settle = () => {
    finished++
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (finished >= waiters[i]!.count) waiters.splice(i, 1)[0]!.resolve()
    }
  }

  const sendUntilFinal = async (write: Write, client: number): Promise<WriteResult> => {
    const attempts: Array<Attempt> = []
    const deadline = Date.now() + keyDeadlineMs
    let targetIndex = client
    for (let failures = 0;; failures++) {
      const targets = options.targets()
      const baseUrl = targets[targetIndex % targets.length]!
      const attemptStart = Date.now()
      const outcome = await postWrite(baseUrl, write, { timeoutMs: attemptTimeoutMs })
      const endedAt = Date.now()
      attempts.push({ baseUrl, outcome, startedAt: attemptStart, endedAt })
      if (isFinal(outcome)) return { write, attempts, final: outcome, finalAt: endedAt }
      if (endedAt > deadline) return { write, attempts, final: undefined, finalAt: undefined }
      targetIndex++
      await Bun.sleep(backoffMs(failures + 1))
    }
  }

  const client = async (index: number) => {
    while (nextWrite < options.writes.length) {
      const i = nextWrite++
      results[i] = await sendUntilFinal(options.writes[i]!, index)
      settle()
    }
  }

  const done = Promise.all(Array.from({ length: options.clients }, (_, i) => client(i))).then(() =>
    results.map((result) => result!)
  )
  const reached = (count: number) =>
    finished >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve }))
  return { reached, done, startedAt }
}

export const isReplay = (result: WriteResult) => result.final?.headers["idempotent-replayed"] === "true"

/** What a run's clients saw, in figures. */
export interface LoadFigures {
  readonly writes: number
  readonly retries: number
  /** Writes that never got a final answer within their deadline. */
  readonly unanswered: number
  /**
   * Final answers that were replays (Idempotent-Replayed): an earlier try of the write was
   * committed but its answer never reached the client, and the retry found the stored outcome.
   */
  readonly replayed: number
  /** The longest stretch, from the load's start to its last answer, without a 2xx. */
  readonly longestGapMs: number
}

export const loadFigures = (results: ReadonlyArray<WriteResult>, startedAt: number): LoadFigures => {
  const successes = results
    .flatMap((r) => r.final !== undefined && r.final.status < 300 && r.finalAt !== undefined ? [r.finalAt] : [])
    .sort((a, b) => a - b)
  const end = Math.max(startedAt, ...results.map((r) => r.attempts.at(-1)?.endedAt ?? startedAt))
  let longestGapMs = 0
  let last = startedAt
  for (const at of [...successes, end]) {
    longestGapMs = Math.max(longestGapMs, at - last)
    last = at
  }
  return {
    writes: results.length,
    retries: results.reduce((n, r) => n + r.attempts.length - 1, 0),
    unanswered: results.filter((r) => r.final === undefined).length,
    replayed: results.filter(isReplay).length,
    longestGapMs
  }
}
